// The image preprocessing spec (a leaf module: types and presets only). One spec type describes how an
// image becomes backbone input on every path; the implementation is src/encoders/preprocess.ts.
import type { KernelEnum } from 'sharp';

/**
 * How a non-square image becomes a square in the square resize modes:
 * - 'crop' (default): scale the shortest edge to the target, then cut the centre square — keeps the
 *   aspect ratio, as in standard ImageNet evaluation;
 * - 'squash': scale both edges to the target (what nsfwjs itself does), keeping everything in view.
 */
export type ResizeMode = 'crop' | 'squash';

/**
 * A square resize of the npm MobileNetV2 kind: transparency composited on white, then 'crop' (shortest
 * edge to `square`, centre square) or 'squash' (both edges to `square`) with a triangle filter.
 */
export interface SquareResize {
  square: number;
  fit: ResizeMode;
}

/**
 * Everything needed to turn an image into model input. This object is what the store manifest
 * (`meta.encode.imagePreprocess`) and sail_model.json (`image.model.preprocess`) record.
 */
export interface PreprocessConfig {
  /**
   * Resize target: shortest edge to this many pixels (aspect kept), an exact size, or a square of the
   * npm-backbone kind ({@link SquareResize}). Undefined: no resize.
   */
  resize?: { shortestEdge: number } | { height: number; width: number } | SquareResize;
  /** Center-crop size; undefined: no crop. */
  crop?: { height: number; width: number };
  /** sharp kernel for the resize ('cubic' = bicubic, as PIL resample=3). */
  kernel: keyof KernelEnum;
  /** Multiply 8-bit values by this (1/255), or undefined to leave 0..255. */
  rescale?: number;
  /** Per-channel mean and std (after rescale); undefined: no normalisation. */
  mean?: [number, number, number];
  std?: [number, number, number];
  /** Memory layout of the output tensor. */
  layout: 'nchw' | 'nhwc';
}

/** DINOv2 defaults (facebook/dinov2-* preprocessor_config.json). */
export const DINOV2_PREPROCESS: PreprocessConfig = {
  resize: { shortestEdge: 256 },
  crop: { height: 224, width: 224 },
  kernel: 'cubic',
  rescale: 1 / 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
  layout: 'nchw',
};

/** The npm MobileNetV2 (nsfwjs) input: square 224 by the triangle filter on white, [0, 1], NHWC. */
export function mobilenetPreprocess(fit: ResizeMode = 'crop'): PreprocessConfig {
  return { resize: { square: 224, fit }, kernel: 'linear', rescale: 1 / 255, layout: 'nhwc' };
}

export const MOBILENET_PREPROCESS: PreprocessConfig = mobilenetPreprocess('crop');
