// What every frozen backbone looks like to the rest of the pipeline.
import type { PreprocessConfig } from './image-spec.js';

/** An image to encode: encoded file bytes (JPEG/PNG/WebP...) or a file path. */
export type ImageInput = Buffer | Uint8Array | string; // encoded bytes, or a file path

/** A frozen image backbone producing one pooled vector per image. */
export interface ImageEncoder {
  /** Registry id, e.g. 'mobilenetv2-nsfwjs' or 'dinov2-small:concat'. */
  readonly id: string;
  readonly dim: number;
  /**
   * How this backbone turns an image into its input (src/encoders/preprocess.ts runs it). Recorded in the
   * store manifest and in sail_model.json, so an export of this backbone preprocesses identically.
   */
  readonly preprocess?: PreprocessConfig;
  /** Embed a batch of images; returns row-major [n, dim] float32, unnormalised. */
  encode(images: ImageInput[]): Promise<Float32Array>;
  /** Per-patch features [n, patches, dim] where the backbone has them (DINOv2 `[CLS ; patch_i]`). */
  encodePatches?(images: ImageInput[]): Promise<{ data: Float32Array; patches: number; grid: [number, number]; dim: number }>;
  /**
   * Optional two-stage form used by the encode pipeline, so decoding the next batch overlaps inference
   * and unreadable images are reported per item instead of failing the batch: `prepare` decodes and
   * preprocesses (never throws for a bad image; lists it in `failed`), `encodePrepared` runs the model on
   * the images that decoded, returning [ok.length, dim].
   */
  prepare?(images: ImageInput[]): Promise<PreparedBatch>;
  encodePrepared?(batch: PreparedBatch): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/** A preprocessed batch: `ok` are the input indices that decoded (ascending), `failed` the others. */
export interface PreparedBatch {
  ok: number[];
  failed: { index: number; reason: string }[];
  /** Backbone-specific payload (e.g. the input tensor). */
  payload: unknown;
}

/** A frozen text backbone producing one pooled vector per text. */
export interface TextEncoder {
  readonly id: string;
  readonly dim: number;
  /** Embed a batch of texts; returns row-major [n, dim] float32, unnormalised. */
  encode(texts: string[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}
