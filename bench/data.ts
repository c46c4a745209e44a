// Data benchmark: `sail download` throughput (images/s, fetch + validate + resize + JPEG re-encode + shard
// write) against a local HTTP server with 1, 8 and 64 fetches in flight. The server runs in this process, so
// the numbers include its (small) cost; network latency is simulated with a fixed per-response delay.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { download } from '../src/data/download.js';

const IMAGES = 16;
const ROWS = 192;
const LATENCY_MS = 20;

async function photo(seed: number): Promise<Buffer> {
  // Smooth gradients plus noise compress like photos, unlike flat colour.
  const w = 640;
  const h = 480;
  const raw = Buffer.alloc(w * h * 3);
  let x = seed * 7919 + 1;
  for (let i = 0; i < w * h; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const n = (x >>> 27) - 16;
    raw[i * 3] = ((i % w) * 255) / w + n;
    raw[i * 3 + 1] = (Math.floor(i / w) * 255) / h + n;
    raw[i * 3 + 2] = (seed * 37) % 256;
  }
  return sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 85 }).toBuffer();
}

/** Run the benchmark and print one line per concurrency. */
export async function run(): Promise<void> {
  const bodies = await Promise.all(Array.from({ length: IMAGES }, (_, i) => photo(i)));
  const server = http.createServer((req, res) => {
    const i = Number((req.url ?? '').replace(/\D/g, '')) % IMAGES;
    setTimeout(() => { res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': bodies[i].length }); res.end(bodies[i]); }, LATENCY_MS);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = mkdtempSync(join(tmpdir(), 'sail-bench-data-'));
  const list = join(dir, 'urls.csv');
  writeFileSync(list, 'url,caption\n' + Array.from({ length: ROWS }, (_, i) => `http://127.0.0.1:${port}/${i}.jpg,image ${i}`).join('\n') + '\n');
  const avgKb = bodies.reduce((a, b) => a + b.length, 0) / IMAGES / 1024;
  console.log(`download: ${ROWS} rows of 640x480 JPEG (~${avgKb.toFixed(0)} KiB), ${LATENCY_MS} ms server latency, resize to 256 px, quality 90, shards of 64`);
  try {
    for (const concurrency of [1, 8, 64]) {
      const out = join(dir, `out-${concurrency}`);
      const t0 = performance.now();
      const { summary } = await download({ input: list, urlCol: 'url', captionCols: ['caption'], output: out, shardSize: 64, concurrency, network: { allowLoopback: true }, image: { size: 256, quality: 90 } });
      const s = (performance.now() - t0) / 1000;
      if (summary.ok !== ROWS) throw new Error(`only ${summary.ok} of ${ROWS} images landed`);
      console.log(`  concurrency ${String(concurrency).padStart(2)}: ${(ROWS / s).toFixed(1)} images/s (${s.toFixed(2)} s)`);
    }
  } finally {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
