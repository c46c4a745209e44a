// WebDataset tar shards as encode rows, read with the data layer's reader (src/data/wds.ts): consecutive
// members sharing a key (`dir/key.jpg`, `dir/key.txt`, `dir/key.json`) form one sample. Unsafe member
// paths, links and oversized members stop the run there (a SailError naming shard and member).
import { readWds, type WdsSample } from '../data/wds.js';
import type { SourceRow, CaptionSpec } from './source-row.js';

/**
 * One caption of a sample: member `key.<column>` (e.g. `txt`) when present, else the string field
 * `column` of `key.json`, else `key.json`'s `captions[column]` (the layout `sail download` writes).
 */
function caption(s: WdsSample, column: string): string | undefined {
  const member = s.members[column];
  if (member !== undefined) return member.toString('utf8').trim();
  const v = s.json?.[column];
  if (typeof v === 'string') return v;
  const nested = s.json?.captions as Record<string, unknown> | undefined;
  const w = nested && typeof nested === 'object' ? nested[column] : undefined;
  return typeof w === 'string' ? w : undefined;
}

/** Stream the samples of `shards` (in the given order) as rows numbered from 0 across shards. */
export async function* tarRows(shards: string[], captions: CaptionSpec[], wantImage: boolean): AsyncGenerator<SourceRow> {
  let row = 0;
  for await (const s of readWds(shards)) {
    const texts: Record<string, string | undefined> = {};
    const problems: string[] = [];
    for (const c of captions) {
      texts[c.modality] = caption(s, c.column);
      if (texts[c.modality] === undefined) problems.push(`no caption '${c.column}' (neither ${s.key}.${c.column} nor a "${c.column}" field in ${s.key}.json)`);
    }
    yield { row: row++, file: `${s.shard}:${s.key}`, image: wantImage ? s.image : undefined, texts, error: problems.length ? problems.join('; ') : undefined };
  }
}
