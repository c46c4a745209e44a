// Separable triangle-filter resampling of RGBA bytes straight into a float NHWC batch tensor.
//
// Why not let sharp resize: for the small images this project mostly sees (64x64 emoji), libvips'
// resize + flatten pipeline costs ~4 CPU ms per image, about a third of the network itself on 2
// cores. Decoding to raw RGBA in sharp and resampling here costs well under a millisecond and writes
// the [0,1] floats the model wants without another pass.
//
// The filter is the one PIL uses for BILINEAR: a triangle whose support widens with the scale when
// shrinking (so downscaling averages instead of aliasing), sampled at pixel centres.
import type { ResizeMode } from '../image-spec.js';

/** Taps of a 1-D resampling: for output i, weights[k] on source index[k] for k in [start[i], start[i+1]). */
interface Taps {
  start: Int32Array;
  index: Int32Array;
  weight: Float32Array;
}

const tapCache = new Map<string, Taps>();

// Scratch rows reused across calls: fresh large typed arrays are mmap'ed and every first touch of
// a page faults, which on the machines measured cost more than the resampling itself.
let scratch = new Float32Array(0);
function scratchOf(n: number): Float32Array {
  if (scratch.length < n) scratch = new Float32Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/**
 * 1-D taps mapping source window [offset, offset + span) (in source pixels, may be fractional) of a
 * source of length `srcLen` onto `dstLen` outputs.
 */
function taps(srcLen: number, offset: number, span: number, dstLen: number): Taps {
  const key = `${srcLen}:${offset}:${span}:${dstLen}`;
  const hit = tapCache.get(key);
  if (hit) return hit;
  const scale = span / dstLen;
  const support = Math.max(1, scale); // triangle half-width in source pixels
  const start = new Int32Array(dstLen + 1);
  const idx: number[] = [];
  const wts: number[] = [];
  for (let i = 0; i < dstLen; i++) {
    const centre = offset + (i + 0.5) * scale; // in source pixel units, centres at k + 0.5
    const lo = Math.max(0, Math.floor(centre - support));
    const hi = Math.min(srcLen - 1, Math.ceil(centre + support));
    let sum = 0;
    const first = idx.length;
    for (let k = lo; k <= hi; k++) {
      const w = Math.max(0, 1 - Math.abs(k + 0.5 - centre) / support);
      if (w > 0) {
        idx.push(k);
        wts.push(w);
        sum += w;
      }
    }
    if (sum === 0) {
      // Only at the very edge of a 1-pixel source: take the nearest pixel.
      idx.push(Math.min(srcLen - 1, Math.max(0, Math.floor(centre))));
      wts.push(1);
      sum = 1;
    }
    for (let k = first; k < wts.length; k++) wts[k] /= sum;
    start[i + 1] = idx.length;
  }
  const t = { start, index: Int32Array.from(idx), weight: Float32Array.from(wts) };
  if (tapCache.size > 256) tapCache.clear(); // bounded: one entry per distinct source geometry
  tapCache.set(key, t);
  return t;
}

/**
 * Resample a `w x h` RGBA image to `size x size` RGB floats in [0,1] at `dst[offset..]` (HWC).
 * Alpha is composited on white first. 'crop' takes the centred square of side min(w, h);
 * 'squash' maps the whole image.
 */
export function resampleRgbaToUnitFloat(
  rgba: Uint8Array, w: number, h: number, size: number, mode: ResizeMode, dst: Float32Array, offset: number,
): void {
  const side = Math.min(w, h);
  const [ox, spanX] = mode === 'crop' ? [(w - side) / 2, side] : [0, w];
  const [oy, spanY] = mode === 'crop' ? [(h - side) / 2, side] : [0, h];
  const tx = taps(w, ox, spanX, size);
  const ty = taps(h, oy, spanY, size);
  // Rows of the source the vertical taps touch, composited on white and resampled horizontally.
  const rowLo = ty.index.reduce((a, b) => Math.min(a, b), h);
  const rowHi = ty.index.reduce((a, b) => Math.max(a, b), 0);
  const tmpLen = (rowHi - rowLo + 1) * size * 3;
  const all = scratchOf(tmpLen + w * 3);
  const tmp = all.subarray(0, tmpLen);
  const src = all.subarray(tmpLen, tmpLen + w * 3);
  const inv = 1 / 255;
  // Upsampling has at most two horizontal taps per output: flatten them into plain arrays.
  let twoTapX = true;
  const x0 = new Int32Array(size);
  const x1 = new Int32Array(size);
  const wx0 = new Float32Array(size);
  const wx1 = new Float32Array(size);
  for (let i = 0; i < size && twoTapX; i++) {
    const k = tx.start[i];
    const n = tx.start[i + 1] - k;
    if (n > 2) twoTapX = false;
    x0[i] = tx.index[k];
    wx0[i] = tx.weight[k];
    x1[i] = n === 2 ? tx.index[k + 1] : tx.index[k];
    wx1[i] = n === 2 ? tx.weight[k + 1] : 0;
  }
  for (let y = rowLo; y <= rowHi; y++) {
    const base = y * w * 4;
    for (let x = 0; x < w; x++) {
      const p = base + 4 * x;
      const a = rgba[p + 3] * inv;
      const white = 1 - a;
      src[3 * x] = rgba[p] * inv * a + white;
      src[3 * x + 1] = rgba[p + 1] * inv * a + white;
      src[3 * x + 2] = rgba[p + 2] * inv * a + white;
    }
    const out = (y - rowLo) * size * 3;
    if (twoTapX) {
      for (let i = 0; i < size; i++) {
        const a = 3 * x0[i];
        const b = 3 * x1[i];
        const wa = wx0[i];
        const wb = wx1[i];
        tmp[out + 3 * i] = src[a] * wa + src[b] * wb;
        tmp[out + 3 * i + 1] = src[a + 1] * wa + src[b + 1] * wb;
        tmp[out + 3 * i + 2] = src[a + 2] * wa + src[b + 2] * wb;
      }
      continue;
    }
    for (let i = 0; i < size; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let k = tx.start[i]; k < tx.start[i + 1]; k++) {
        const s = 3 * tx.index[k];
        const wt = tx.weight[k];
        r += src[s] * wt;
        g += src[s + 1] * wt;
        b += src[s + 2] * wt;
      }
      tmp[out + 3 * i] = r;
      tmp[out + 3 * i + 1] = g;
      tmp[out + 3 * i + 2] = b;
    }
  }
  const row = size * 3;
  for (let j = 0; j < size; j++) {
    const o = offset + j * row;
    const k0 = ty.start[j];
    const k1 = ty.start[j + 1];
    // Upsampling (the common case) has at most two taps: write them without a clearing pass.
    const s0 = (ty.index[k0] - rowLo) * row;
    const w0 = ty.weight[k0];
    if (k1 - k0 === 1) {
      for (let c = 0; c < row; c++) dst[o + c] = tmp[s0 + c] * w0;
    } else {
      const s1 = (ty.index[k0 + 1] - rowLo) * row;
      const w1 = ty.weight[k0 + 1];
      for (let c = 0; c < row; c++) dst[o + c] = tmp[s0 + c] * w0 + tmp[s1 + c] * w1;
      for (let k = k0 + 2; k < k1; k++) {
        const s = (ty.index[k] - rowLo) * row;
        const wt = ty.weight[k];
        for (let c = 0; c < row; c++) dst[o + c] += tmp[s + c] * wt;
      }
    }
  }
}
