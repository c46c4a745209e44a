// Issue 10 item 14: a long command line (29 KB+) used to crash onnxruntime's start-up on the main thread
// (exit 139, no message) with the mobilenetv2-nsfwjs backbone. 3000 classes on the command line must work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { writeTextModel } from '../encoders/fixtures.js';
import { writeSafetensors } from '../../src/head/safetensors.js';
import { initParams } from '../../src/head/init.js';
import { defaultHeadConfig, type HeadConfig } from '../../src/head/config.js';
import { Rng } from '../../src/util/rng.js';
import { initStackMb, LONG_COMMAND_LINE_BYTES } from '../../src/onnx/ort-init.js';

test('sail segment with mobilenetv2-nsfwjs and 3000 classes on the command line (about 30 KB) runs to the end', async () => {
  const dir = tempDir();
  const textDir = join(dir, 'text');
  mkdirSync(textDir);
  writeTextModel(textDir, 5);
  const cfg: HeadConfig = { ...defaultHeadConfig, type: 'linear', visionDim: 1792, textDim: 5, targetDim: 4 };
  const params = initParams(cfg, new Rng(7));
  await writeSafetensors(join(dir, 'head.safetensors'), params);
  const image = join(dir, 'red.png');
  await sharp({ create: { width: 32, height: 24, channels: 3, background: { r: 200, g: 30, b: 30 } } }).png().toFile(image);
  const classes = Array.from({ length: 3000 }, (_, i) => `class number ${i}`);
  const arg = classes.join(',');
  assert.ok(arg.length > 40_000, `command line ${arg.length} bytes`);
  const out = join(dir, 'overlay.png');
  const r = runSail(['segment', image, '--classes', arg, '--model', join(dir, 'head.safetensors'), '--vision-model', 'mobilenetv2-nsfwjs', '--text-model', textDir, '--out', out, '--json',
    // one pass over the small image: the test is about the command line's length, not sliding windows
    '--window', '0', '--short-side', '0']);
  assert.equal(r.signal, null, `killed by ${r.signal}: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout) as { width: number; height: number; classes: string[]; fractions: number[] };
  assert.equal(res.classes.length, 3000);
  assert.deepEqual([res.width, res.height], [32, 24]);
  assert.ok(Math.abs(res.fractions.reduce((a, b) => a + b, 0) - 1) < 1e-9);
  assert.ok(existsSync(out));
});

test('onnxruntime start-up stack: sized from the command line, only for long ones', () => {
  assert.ok(LONG_COMMAND_LINE_BYTES >= 1024);
  // 280 B of stack per command-line byte were measured; the worker gets 512 B per byte plus 16 MB.
  for (const bytes of [4097, 29_000, 131_072, 2_097_152]) assert.ok(initStackMb(bytes) * 2 ** 20 >= bytes * 280 + 8 * 2 ** 20, String(bytes));
  assert.equal(initStackMb(1e12), 4096);
});
