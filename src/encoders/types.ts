// What every frozen backbone looks like to the rest of the pipeline.

/** Decoded image ready for preprocessing: RGB(A) bytes, row-major, or an encoded file buffer. */
export type ImageInput = Buffer | Uint8Array | string; // encoded bytes, or a file path

/** A frozen image backbone producing one pooled vector per image. */
export interface ImageEncoder {
  /** Registry id, e.g. 'mobilenetv2-nsfwjs' or 'dinov2-small:concat'. */
  readonly id: string;
  readonly dim: number;
  /** Embed a batch of images; returns row-major [n, dim] float32, unnormalised. */
  encode(images: ImageInput[]): Promise<Float32Array>;
  /** Per-patch features [n, patches, dim] where the backbone has them (DINOv2 `[CLS ; patch_i]`). */
  encodePatches?(images: ImageInput[]): Promise<{ data: Float32Array; patches: number; grid: [number, number]; dim: number }>;
  dispose(): Promise<void>;
}

/** A frozen text backbone producing one pooled vector per text. */
export interface TextEncoder {
  readonly id: string;
  readonly dim: number;
  /** Embed a batch of texts; returns row-major [n, dim] float32, unnormalised. */
  encode(texts: string[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}
