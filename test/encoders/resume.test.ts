import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import sharp from 'sharp';
import { runSail, startSail } from '../helpers/cli.js';
import { encode } from '../../src/encoders/pipeline.js';
import { loadImageEncoder, loadTextEncoder } from '../../src/encoders/registry.js';
import { tempDir } from '../helpers/paths.js';
import { writeTextModel, writeVisionModel } from './fixtures.js';

const ROWS = 120;
const WORDS = ['a', 'cat', 'dog', 'on', 'the', 'mat', 'hello', 'world', 'sun', 'red'];

function listFiles(dir: string, out: string[] = [], root = dir): string[] {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) listFiles(p, out, root);
    else out.push(relative(root, p));
  }
  return out;
}

async function setup(): Promise<{ root: string; args: (out: string) => string[] }> {
  const root = tempDir();
  writeVisionModel(join(root, 'vis'), 4);
  writeTextModel(join(root, 'txt'), 3);
  mkdirSync(join(root, 'imgs'));
  const lines = ['image,caption'];
  for (let i = 0; i < ROWS; i++) {
    const raw = Buffer.alloc(16 * 16 * 3, (i * 37) % 256);
    const body = i % 50 === 7 ? Buffer.from('corrupt') : await sharp(raw, { raw: { width: 16, height: 16, channels: 3 } }).png().toBuffer();
    writeFileSync(join(root, 'imgs', `${i}.png`), body);
    lines.push(`imgs/${i}.png,${WORDS[i % 10]} ${WORDS[(i * 3) % 10]}`);
  }
  writeFileSync(join(root, 'data.csv'), lines.join('\n') + '\n');
  const args = (out: string) => [
    'encode', join(root, 'data.csv'), '--out', out, '--image-model', join(root, 'vis'), '--text-model', join(root, 'txt'),
    '--part-size', '2', '--batch-size', '2', '--threads', '1', '--json',
  ];
  return { root, args };
}

test('sail encode: SIGKILL mid-run, rerun, store byte-identical to an uninterrupted run', { timeout: 120_000 }, async () => {
  const { root, args } = await setup();
  // the uninterrupted reference run goes through the library (same code path, one CLI start less)
  const full = join(root, 'full');
  const image = await loadImageEncoder(join(root, 'vis'), { threads: 1 });
  const text = await loadTextEncoder(join(root, 'txt'), { threads: 1 });
  const ref = await encode({ input: join(root, 'data.csv'), out: full, imageEncoder: image, textEncoder: text, partSize: 2, batchSize: 2 });
  await image.dispose();
  await text.dispose();
  assert.ok(ref.manifest);
  assert.equal(ref.sourceRows, ROWS);
  assert.equal(ref.dropped, 3); // rows 7, 57, 107

  const out = join(root, 'killed');
  const child = startSail(args(out));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  // wait until some parts are on disk, then kill without warning
  const deadline = Date.now() + 60_000;
  while (!existsSync(join(out, 'part-00003.json')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  child.kill('SIGKILL');
  await exited;
  assert.ok(existsSync(join(out, 'part-00003.json')), 'the run wrote parts before the kill');
  assert.ok(!existsSync(join(out, 'manifest.json')), 'the run was killed before it finished (make ROWS larger if this fails)');

  const resumed = runSail(args(out));
  assert.equal(resumed.status, 0, resumed.stderr);
  const r = JSON.parse(resumed.stdout.trim().split('\n').pop()!);
  assert.ok(r.partsSkipped >= 4, `resume skipped ${r.partsSkipped} parts`);
  assert.equal(r.partsSkipped + r.partsWritten, ROWS / 2);
  assert.equal(r.finalized, true);
  assert.equal(r.rows, ROWS - 3);

  const a = listFiles(full);
  const b = listFiles(out);
  assert.deepEqual(b, a);
  for (const f of a) assert.ok(readFileSync(join(out, f)).equals(readFileSync(join(full, f))), `${f} differs`);
});

test('sail encode --on-error fail gives one clear error line naming file and row', async () => {
  const { root, args } = await setup();
  const fail = runSail([...args(join(root, 'y')), '--on-error', 'fail']);
  assert.equal(fail.status, 1);
  assert.match(fail.stderr, /^sail: .*7\.png, row 7: unreadable image/m);
});
