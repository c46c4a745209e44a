import sharp from 'sharp';
import { decodeAndResize, DINOV2_PREPROCESS } from '../../src/encoders/preprocess.js';
function cubic(x: number): number { const a = -0.5; x = Math.abs(x); if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1; if (x < 2) return (((x - 5) * x + 8) * x - 4) * a; return 0; }
function coeffs(inSize: number, outSize: number) {
  const scale = inSize / outSize; const fs = Math.max(scale, 1); const support = 2 * fs; const out: { xmin: number; k: number[] }[] = [];
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale; const xmin = Math.max(Math.trunc(center - support + 0.5), 0); const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    const k: number[] = []; let ww = 0;
    for (let x = 0; x < xmax; x++) { const w = cubic((x + xmin - center + 0.5) / fs); k.push(w); ww += w; }
    out.push({ xmin, k: k.map((w) => w / ww) });
  }
  return out;
}
const clip8 = (v: number) => Math.min(255, Math.max(0, Math.round(v)));
function pilResize(src: Uint8Array, w: number, h: number, ow: number, oh: number): Uint8Array {
  const cx = coeffs(w, ow); const mid = new Uint8Array(ow * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < ow; x++) for (let c = 0; c < 3; c++) { let s = 0; cx[x].k.forEach((kk, i) => (s += kk * src[(y * w + cx[x].xmin + i) * 3 + c])); mid[(y * ow + x) * 3 + c] = clip8(s); }
  const cy = coeffs(h, oh); const out = new Uint8Array(ow * oh * 3);
  for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) for (let c = 0; c < 3; c++) { let s = 0; cy[y].k.forEach((kk, i) => (s += kk * mid[((cy[y].xmin + i) * ow + x) * 3 + c])); out[(y * ow + x) * 3 + c] = clip8(s); }
  return out;
}
for (const [w, h] of [[640, 480], [300, 200], [1000, 700]]) {
  const raw = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let c = 0; c < 3; c++) raw[(y * w + x) * 3 + c] = clip8(127 + 100 * Math.sin(x / (7 + c) + y / 11) * Math.cos(y / (5 + c)) + ((x * 31 + y * 17) % 23));
  const png = await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
  const cfg = { ...DINOV2_PREPROCESS, crop: undefined };
  const got = await decodeAndResize(png, cfg);
  const want = pilResize(raw, w, h, got.width, got.height);
  let sum = 0, max = 0; for (let i = 0; i < want.length; i++) { const d = Math.abs(want[i] - got.data[i]); sum += d; max = Math.max(max, d); }
  console.log(w, h, '->', got.width, got.height, 'mean abs', (sum / want.length).toFixed(3), 'max', max);
}
