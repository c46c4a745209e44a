import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp, { type Sharp } from 'sharp';
import { ImageRejected, processImage, sniffImage } from '../../src/data/image.js';
import { craftHugePng, makeJpeg } from './fixtures.js';

const opts = { size: 256, quality: 90, maxPixels: 10_000_000 };

async function noise(w: number, h: number): Promise<Sharp> {
  const raw = Buffer.alloc(w * h * 3);
  let x = 12345;
  for (let i = 0; i < raw.length; i++) { x = (x * 1103515245 + 12345) >>> 0; raw[i] = x >>> 24; }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } });
}

test('image: magic bytes decide the format, not names', async () => {
  const base = sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } });
  assert.equal(sniffImage(await base.clone().jpeg().toBuffer()), 'jpeg');
  assert.equal(sniffImage(await base.clone().png().toBuffer()), 'png');
  assert.equal(sniffImage(await base.clone().gif().toBuffer()), 'gif');
  assert.equal(sniffImage(await base.clone().webp().toBuffer()), 'webp');
  assert.equal(sniffImage(await base.clone().tiff().toBuffer()), 'tiff');
  assert.equal(sniffImage(await base.clone().avif().toBuffer()), 'avif');
  assert.equal(sniffImage(Buffer.from('<!DOCTYPE html><html>')), undefined);
  assert.equal(sniffImage(Buffer.from([0xff, 0xd8])), undefined, 'two bytes are not enough');
  assert.equal(sniffImage(Buffer.alloc(0)), undefined);
});

test('image: shortest edge resized to size (closed form), never upscaled, size 0 keeps', async () => {
  for (const [w, h, size] of [[400, 300, 256], [300, 1000, 128], [257, 256, 256], [1000, 999, 100]]) {
    const out = await processImage(await makeJpeg(w, h), { ...opts, size });
    const s = size / Math.min(w, h);
    const want = Math.min(w, h) > size ? [Math.round(w * s), Math.round(h * s)] : [w, h];
    assert.deepEqual([out.width, out.height], want, `${w}x${h}@${size}`);
    const meta = await sharp(out.data).metadata();
    assert.deepEqual([meta.width, meta.height, meta.format], [...want, 'jpeg']);
    assert.deepEqual([out.originalWidth, out.originalHeight], [w, h]);
    assert.equal(Math.min(out.width, out.height), Math.min(size, Math.min(w, h)));
  }
  const small = await processImage(await makeJpeg(60, 40), opts);
  assert.deepEqual([small.width, small.height], [60, 40]);
  const keep = await processImage(await makeJpeg(500, 300), { ...opts, size: 0 });
  assert.deepEqual([keep.width, keep.height], [500, 300]);
});

test('image: EXIF orientation is applied, alpha is flattened onto white, quality matters', async () => {
  const rotated = await sharp({ create: { width: 400, height: 200, channels: 3, background: '#ff0000' } }).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const r = await processImage(rotated, { ...opts, size: 100 });
  assert.deepEqual([r.originalWidth, r.originalHeight, r.width, r.height], [200, 400, 100, 200]);
  const clear = await sharp({ create: { width: 20, height: 20, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
  const flat = await processImage(clear, opts);
  const { data, info } = await sharp(flat.data).raw().toBuffer({ resolveWithObject: true });
  assert.equal(info.channels, 3);
  assert.ok(data.every((v) => v >= 250), 'transparent pixels become white');
  const n = await (await noise(300, 300)).png().toBuffer();
  const lo = await processImage(n, { ...opts, quality: 30 });
  const hi = await processImage(n, { ...opts, quality: 95 });
  assert.ok(lo.data.length < hi.data.length * 0.6, `q30 ${lo.data.length} vs q95 ${hi.data.length}`);
  const gif = await processImage(await sharp({ create: { width: 300, height: 600, channels: 3, background: '#00ff00' } }).gif().toBuffer(), opts);
  assert.deepEqual([gif.sourceFormat, gif.width, gif.height], ['gif', 256, 512]);
});

test('image: rejects non-images, truncated files and pixel bombs before decoding', async () => {
  const reason = async (buf: Buffer, o = opts) => {
    try { await processImage(buf, o); return 'accepted'; } catch (e) { assert.ok(e instanceof ImageRejected); return e.reason; }
  };
  assert.equal(await reason(Buffer.from('<html>not an image</html>')), 'not_image');
  const jpg = await (await noise(200, 200)).jpeg().toBuffer();
  assert.equal(await reason(jpg.subarray(0, jpg.length >> 1)), 'decode_error');
  assert.equal(await reason(jpg.subarray(0, jpg.length - 64)), 'decode_error', 'missing only the tail');
  assert.equal(await reason(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])), 'decode_error');
  const rss0 = process.memoryUsage().rss;
  assert.equal(await reason(craftHugePng(30000, 30000)), 'too_many_pixels');
  assert.equal(await reason(craftHugePng(100000, 100000), { ...opts, maxPixels: Number.MAX_SAFE_INTEGER }), 'decode_error');
  assert.ok(process.memoryUsage().rss - rss0 < 200 * 1024 * 1024);
  // The limit is a product of the header dimensions: 3000x3000 = 9 M passes 10 M, fails 8 M.
  const big = await sharp({ create: { width: 3000, height: 3000, channels: 3, background: '#336699' } }).png().toBuffer();
  assert.equal(await reason(big, { ...opts, maxPixels: 8_000_000 }), 'too_many_pixels');
  assert.equal(await reason(big), 'accepted');
});
