import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync, writeFileSync } from 'node:fs';
import { GraphBuilder } from '../../src/onnx/graph.js';
import { createSession, f32, ort } from '../../src/onnx/session.js';
import { exportModel, readManifest } from '../../src/model/export.js';
import { createModel } from '../../src/model/model.js';
import type { HeadConfig } from '../../src/head/config.js';
import { Rng } from '../../src/util/rng.js';
import { SailError } from '../../src/util/errors.js';
import { tempDir } from '../helpers/paths.js';
import { randomHead, refForward, writeSafetensors } from './helpers.js';
import { runSail } from '../helpers/cli.js';

const H = 3; // backbone hidden width
const rand = (rng: Rng, n: number) => Float32Array.from({ length: n }, () => rng.next() * 2 - 1);

/** Tiny ViT-like backbone: 4x4 RGB image -> 16 pixel tokens [N, 16, H] (token 0 plays CLS). */
function tinyVisionBackbone(rng: Rng, opset: number): { bytes: Uint8Array; w: Float32Array; b: Float32Array } {
  const g = new GraphBuilder('tiny_vit');
  const px = g.input('pixel_values', 'float32', ['N', 3, 4, 4]);
  const w = rand(rng, 3 * H);
  const b = rand(rng, H);
  const tokens = g.op('Transpose', [g.op('Reshape', [px, g.constI64([0, 3, 16])])], { perm: [0, 2, 1] });
  const h = g.op('Add', [g.op('MatMul', [tokens, g.initializer('proj.w', w, [3, H])]), g.initializer('proj.b', b, [H])]);
  g.output(g.op('Tanh', [h]), 'last_hidden_state', 'float32', ['N', 16, H]);
  return { bytes: g.toBytes({ opset }), w, b };
}

/** Tiny text backbone at opset 13: token ids -> embedding table rows [N, L, H]. */
function tinyTextBackbone(rng: Rng, vocab: number): { bytes: Uint8Array; table: Float32Array } {
  const g = new GraphBuilder('tiny_text');
  const ids = g.input('input_ids', 'int64', ['N', 'L']);
  const table = rand(rng, vocab * H);
  g.output(g.op('Gather', [g.initializer('emb', table, [vocab, H]), ids], { axis: 0 }), 'last_hidden_state', 'float32', ['N', 'L', H]);
  return { bytes: g.toBytes({ opset: 13 }), table };
}

function tokensOf(px: Float32Array, n: number, w: Float32Array, b: Float32Array): Float64Array[][] {
  const out: Float64Array[][] = [];
  for (let i = 0; i < n; i++) {
    const toks: Float64Array[] = [];
    for (let t = 0; t < 16; t++)
      toks.push(Float64Array.from({ length: H }, (_, o) => {
        let s = b[o];
        for (let c = 0; c < 3; c++) s += px[i * 48 + c * 16 + t] * w[c * H + o];
        return Math.tanh(s);
      }));
    out.push(toks);
  }
  return out;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

test('export: head-alone ONNX files reproduce the TypeScript forward within 1e-5', async () => {
  const cfg: HeadConfig = { type: 'star', widthFactor: 4, visionDim: 6, textDim: 5, targetDim: 4, logitScaleInit: 20, logitBiasInit: -10 };
  const params = randomHead(cfg, 21);
  const dir = tempDir();
  const manifest = await exportModel({ config: cfg, params }, { outDir: dir, imageBackboneId: 'test-vit', textBackboneId: 'test-text' });
  assert.deepEqual(readManifest(dir), JSON.parse(JSON.stringify(manifest)));
  assert.ok(Math.abs(manifest.logitScale - 20) < 1e-4 && manifest.logitBias === -10);
  const model = await createModel({ head: { config: cfg, params } });
  const rng = new Rng(4);
  for (const [side, file, d] of [['vision', 'image_head.onnx', 6], ['text', 'text_head.onnx', 5]] as const) {
    const x = rand(rng, 9 * d);
    const s = await createSession(join(dir, file));
    const res = await s.run({ features: f32(x, [9, d]) });
    const ts = side === 'vision' ? await model.encodeImageFeatures(x) : await model.encodeTextFeatures(x);
    const tsRaw = side === 'vision' ? await model.encodeImageFeatures(x, { normalize: false }) : await model.encodeTextFeatures(x, { normalize: false });
    assert.ok(maxDiff(res.embedding.data as Float32Array, ts) < 1e-5);
    assert.ok(maxDiff(res.embedding_unnormalized.data as Float32Array, tsRaw) < 1e-5);
    const ref = refForward(cfg, params, side, x.subarray(0, d));
    assert.ok(maxDiff((res.embedding.data as Float32Array).subarray(0, 4), ref) < 1e-5);
    await s.release();
  }
  await model.dispose();
});

for (const opset of [17, 13]) {
  test(`export: backbone fused with concat pooling + head, and per-patch tokens (opset ${opset})`, async () => {
    const rng = new Rng(opset);
    const cfg: HeadConfig = { type: 'mlp', widthFactor: 1, visionDim: 2 * H, textDim: H, targetDim: 4, logitScaleInit: 20, logitBiasInit: -10 };
    const params = randomHead(cfg, 22);
    const vb = tinyVisionBackbone(rng, opset);
    const tb = tinyTextBackbone(rng, 10);
    const dir = tempDir();
    writeFileSync(join(dir, 'vit.onnx'), vb.bytes);
    const m = await exportModel({ config: cfg, params }, { outDir: join(dir, 'out'), imageBackboneId: 'test-vit', textBackboneId: 'test-text', vision: { onnx: join(dir, 'vit.onnx'), pooling: 'concat' }, text: { onnx: tb.bytes, pooling: 'mean' } });
    assert.deepEqual(m.image.model?.inputs, ['pixel_values']);
    assert.deepEqual(m.text.model?.inputs, ['input_ids']);
    const n = 2;
    const px = rand(rng, n * 48);
    const toks = tokensOf(px, n, vb.w, vb.b);
    const img = await createSession(join(dir, 'out', m.image.model!.file));
    const got = (await img.run({ pixel_values: f32(px, [n, 3, 4, 4]) })).embedding.data as Float32Array;
    const patches = await createSession(join(dir, 'out', m.image.patches!.file));
    const gotP = (await patches.run({ pixel_values: f32(px, [n, 3, 4, 4]) })).embedding;
    assert.deepEqual(gotP.dims, [n, 15, 4]);
    for (let i = 0; i < n; i++) {
      const cls = toks[i][0];
      const mean = Float64Array.from({ length: H }, (_, o) => toks[i].slice(1).reduce((s, t) => s + t[o], 0) / 15);
      const want = refForward(cfg, params, 'vision', [...cls, ...mean]);
      assert.ok(maxDiff(got.subarray(i * 4, i * 4 + 4), want) < 1e-5, `pooled image ${i}`);
      for (const p of [0, 7, 14]) {
        const wantP = refForward(cfg, params, 'vision', [...cls, ...toks[i][p + 1]]);
        assert.ok(maxDiff((gotP.data as Float32Array).subarray((i * 15 + p) * 4, (i * 15 + p + 1) * 4), wantP) < 1e-5, `patch ${p}`);
      }
    }
    const txt = await createSession(join(dir, 'out', 'text_model.onnx'));
    const ids = [1, 4, 4, 9];
    const gotT = (await txt.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, 4]) })).embedding.data as Float32Array;
    const meanT = Float64Array.from({ length: H }, (_, o) => ids.reduce((s, id) => s + tb.table[id * H + o], 0) / 4);
    assert.ok(maxDiff(gotT, refForward(cfg, params, 'text', meanT)) < 1e-5);
    for (const s of [img, patches, txt]) await s.release();
  });
}

test('export: unreadable backbone or unknown output name gives SailError naming the file', async () => {
  const cfg: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: H, textDim: H, targetDim: 2, logitScaleInit: 20, logitBiasInit: -10 };
  const dir = tempDir();
  const bad = join(dir, 'bad.onnx');
  writeFileSync(bad, Buffer.from('not onnx at all, definitely'));
  const head = { config: cfg, params: randomHead(cfg, 1) };
  await assert.rejects(exportModel(head, { outDir: dir, imageBackboneId: 'test-vit', textBackboneId: 'test-text', vision: { onnx: bad } }), (e: unknown) => e instanceof SailError && e.message.includes('bad.onnx'));
  const vit = join(dir, 'vit.onnx');
  writeFileSync(vit, tinyVisionBackbone(new Rng(1), 17).bytes);
  await assert.rejects(exportModel(head, { outDir: dir, imageBackboneId: 'test-vit', textBackboneId: 'test-text', vision: { onnx: vit, output: 'nope' } }), (e: unknown) => e instanceof SailError && /nope/.test(e.message));
});

test('sail export CLI writes the files and --json manifest', () => {
  const cfg: HeadConfig = { type: 'star', widthFactor: 2, visionDim: 2 * H, textDim: H, targetDim: 3, logitScaleInit: 20, logitBiasInit: -10 };
  const dir = tempDir();
  writeSafetensors(join(dir, 'head.safetensors'), randomHead(cfg, 2));
  writeFileSync(join(dir, 'vit.onnx'), tinyVisionBackbone(new Rng(3), 17).bytes);
  const r = runSail(['export', join(dir, 'head.safetensors'), '--out', join(dir, 'exp'), '--vision-backbone-onnx', join(dir, 'vit.onnx'), '--vision-pooling', 'cls-mean', '--vision-preprocess', 'mobilenetv2-nsfwjs', '--vision-model', 'test-vit', '--text-model', 'gte-base-en-v1.5', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  // the backbones are required fields: ids, pooling, preprocessing
  assert.deepEqual(out.backbones.text, { id: 'gte-base-en-v1.5', pooling: 'cls' });
  assert.equal(out.backbones.image.id, 'test-vit');
  assert.equal(out.backbones.image.preprocess.layout, 'nhwc');
  const noIds = runSail(['export', join(dir, 'head.safetensors'), '--out', join(dir, 'exp2')]);
  assert.equal(noIds.status, 1);
  assert.match(noIds.stderr, /^sail: the head does not record its image backbone .*pass --vision-model NAME/m);
  const use = runSail(['export', join(dir, 'head.safetensors'), '--out', join(dir, 'exp3'), '--text-backbone', 'use-lite']);
  assert.match(use.stderr, /^sail: --text-backbone use-lite: use-lite runs in TF\.js and has no ONNX graph/m);
  const unknown = runSail(['export', join(dir, 'head.safetensors'), '--out', join(dir, 'exp4'), '--vision-backbone', 'resnet-9000']);
  assert.match(unknown.stderr, /^sail: --vision-backbone: 'resnet-9000' is not a registry image backbone/m);
  assert.equal(out.image.model.file, 'image_model.onnx');
  assert.equal(out.image.model.preprocess.layout, 'nhwc');
  assert.equal(out.image.patches.file, 'image_patches.onnx');
  assert.equal(JSON.parse(readFileSync(join(dir, 'exp', 'sail_model.json'), 'utf8')).head.widthFactor, 2);
  const bad = runSail(['export', join(dir, 'missing.safetensors'), '--out', join(dir, 'x')]);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /missing\.safetensors/);
});
