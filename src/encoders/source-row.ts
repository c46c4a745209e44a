// The row and caption types shared by the encode inputs (sources.ts opens them; tar-source.ts streams
// tar shards as rows) and the encode pipeline: a leaf module, so the readers do not import each other.
import type { ImageInput } from './types.js';

/** One caption source: the store modality it fills and the column (manifest), member/field (tar) it comes from. */
export interface CaptionSpec {
  modality: string;
  column: string;
}

/** One input sample. */
export interface SourceRow {
  /** 0-based source row id (manifest data row, sorted folder entry, or tar sample order). */
  row: number;
  /** Where the row comes from, for error reports. */
  file: string;
  /** Image file path or bytes; undefined when the encode has no image backbone. */
  image?: ImageInput;
  /** Caption text per modality. */
  texts: Record<string, string | undefined>;
  /** Why the row cannot be used (missing caption, malformed record...), found before decoding. */
  error?: string;
}
