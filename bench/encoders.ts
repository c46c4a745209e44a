// Encode-pipeline throughput on a tiny DINOv2-shaped + BERT-shaped model (so decode, batching, prefetch
// and store writes dominate), at a few batch sizes, against a naive one-item-at-a-time loop.
// Real backbone throughput is measured in bench/backbones.ts.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { encode } from '../src/encoders/pipeline.js';
import { loadImageEncoder, loadTextEncoder } from '../src/encoders/registry.js';
import { writeTextModel, writeVisionModel } from '../test/encoders/fixtures.js';

const N = 256;
const WORDS = ['a', 'cat', 'dog', 'on', 'the', 'mat', 'hello', 'world', 'sun', 'red'];

/** Print items/s of `sail encode` (library) at batch sizes 1, 8, 32 and of a naive per-item loop. */
export async function run(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'sail-bench-enc-'));
  try {
    writeVisionModel(join(root, 'vis'), 32);
    writeTextModel(join(root, 'txt'), 32);
    mkdirSync(join(root, 'imgs'));
    const lines = ['image,caption'];
    const captions: string[] = [];
    for (let i = 0; i < N; i++) {
      const raw = Buffer.alloc(320 * 240 * 3);
      for (let k = 0; k < raw.length; k++) raw[k] = (k * 7 + i * 13) & 255;
      writeFileSync(join(root, 'imgs', `${i}.jpg`), await sharp(raw, { raw: { width: 320, height: 240, channels: 3 } }).jpeg().toBuffer());
      captions.push(`${WORDS[i % 10]} ${WORDS[(i * 7) % 10]} on the ${WORDS[(i * 3) % 10]}`);
      lines.push(`imgs/${i}.jpg,${captions[i]}`);
    }
    writeFileSync(join(root, 'data.csv'), lines.join('\n') + '\n');
    console.log(`${N} JPEG 320x240 images + captions; tiny models (conv patchify 14px -> 32-d, embedding text 32-d); CPU`);

    for (const batchSize of [1, 8, 32]) {
      const image = await loadImageEncoder(join(root, 'vis'), { batchSize });
      const text = await loadTextEncoder(join(root, 'txt'), { batchSize });
      const out = join(root, `store-${batchSize}`);
      const t0 = performance.now();
      await encode({ input: join(root, 'data.csv'), out, imageEncoder: image, textEncoder: text, batchSize, partSize: 4096 });
      const secs = (performance.now() - t0) / 1000;
      console.log(`pipeline batch ${String(batchSize).padStart(2)}: ${(N / secs).toFixed(1)} items/s (${secs.toFixed(2)} s)`);
      await image.dispose();
      await text.dispose();
    }

    // naive: one image and one caption at a time, no prefetch, results collected in memory only
    const image = await loadImageEncoder(join(root, 'vis'), { batchSize: 1 });
    const text = await loadTextEncoder(join(root, 'txt'), { batchSize: 1 });
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      await image.encode([join(root, 'imgs', `${i}.jpg`)]);
      await text.encode([captions[i]]);
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`naive loop (1 at a time, no store): ${(N / secs).toFixed(1)} items/s (${secs.toFixed(2)} s)`);
    await image.dispose();
    await text.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
