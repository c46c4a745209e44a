// The ONNX training engine against the float64 reference (fused path), the blocked path against the
// fused one, and the closed-form loss values through the loss-block graph.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paramSpecs, type HeadConfig, type HeadType, type ParamSet } from '../../src/head/config.js';
import { refStep } from '../head/reference.js';
import { createTrainEngine, fitsFused, FUSED_MAX_HIDDEN_ELEMENTS } from '../../src/train/engine.js';
import { buildLossBlockGraph } from '../../src/train/graphs/build.js';
import { logChunk } from '../../src/train/graphs/loss.js';
import { createSession, f32 } from '../../src/onnx/session.js';
import { SailError } from '../../src/util/errors.js';
import type { Batch, LossType, StepResult } from '../../src/train/engine-types.js';
import { randomParams, randomRows, relErr, tinyConfig } from './fixtures.js';

type Variant = 'siglip' | 'siglip+extra' | 'infonce';

function makeBatch(cfg: HeadConfig, n: number, extra: boolean, seed: number): Batch {
  return {
    n,
    image: randomRows(n, cfg.visionDim, seed),
    text: randomRows(n, cfg.textDim, seed + 1),
    extraText: extra ? randomRows(n, cfg.textDim, seed + 2) : undefined,
  };
}

function assertClose(got: StepResult, want: { loss: number; positiveLoss: number; negativeLoss: number; extraLoss?: number; grads: ArrayLike<number>[] }, cfg: HeadConfig, tol: number, what: string): void {
  for (const k of ['loss', 'positiveLoss', 'negativeLoss', 'extraLoss'] as const) {
    const a = got[k];
    const b = want[k];
    assert.equal(a === undefined, b === undefined, `${what}: ${k} presence`);
    if (a !== undefined && b !== undefined) assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what}: ${k} ${a} vs ${b}`);
  }
  paramSpecs(cfg).forEach((s, i) => {
    const e = relErr(got.grads[i], want.grads[i], 1e-6);
    assert.ok(e <= tol, `${what}: grad ${s.name} relative error ${e}`);
  });
}

const copyResult = (r: StepResult) => ({ ...r, grads: r.grads.map((g) => g.slice()) });

for (const type of ['star', 'mlp', 'linear'] as HeadType[]) {
  for (const variant of ['siglip', 'siglip+extra', 'infonce'] as Variant[]) {
    test(`fused ONNX engine matches the float64 reference: ${type} / ${variant}`, async () => {
      const cfg = tinyConfig(type);
      const loss: LossType = variant === 'infonce' ? 'infonce' : 'siglip';
      const params = randomParams(cfg, 5);
      if (type === 'star') params.find((p) => p.name === 'text_mapping_network.f2.bias')!.data[1] = -1500;
      const engine = await createTrainEngine({ head: cfg, loss, threads: 1 });
      try {
        for (const n of [6, 3]) {
          // symbolic N: one session per log chunk of the loss (SigLIP: N = 6 and N = 3 use chunks 2 and 1)
          const batch = makeBatch(cfg, n, variant === 'siglip+extra', 20 + n);
          const got = await engine.step(params, batch);
          const want = refStep(cfg, loss, params.map((p) => p.data), batch);
          if (loss === 'infonce') want.extraLoss = undefined;
          assertClose(got, want, cfg, 1e-4, `n=${n}`);
        }
      } finally {
        await engine.dispose();
      }
    });
  }
}

for (const [type, variant] of [['star', 'siglip+extra'], ['star', 'siglip'], ['mlp', 'infonce'], ['linear', 'siglip']] as [HeadType, Variant][]) {
  test(`blocked path equals the fused path (N = 40, blocks of 16, ragged): ${type} / ${variant}`, async () => {
    const cfg = tinyConfig(type);
    const loss: LossType = variant === 'infonce' ? 'infonce' : 'siglip';
    const params = randomParams(cfg, 9);
    const batch = makeBatch(cfg, 40, variant === 'siglip+extra', 77);
    const fused = await createTrainEngine({ head: cfg, loss, threads: 1, blockRows: 64 });
    const blocked = await createTrainEngine({ head: cfg, loss, threads: 1, blockRows: 16, headChunkRows: 12 });
    try {
      const a = copyResult(await fused.step(params, batch));
      const b = await blocked.step(params, batch);
      assertClose(b, a, cfg, 2e-5, 'blocked vs fused');
      // and both against float64, so a shared mistake cannot hide
      const want = refStep(cfg, loss, params.map((p) => p.data), batch);
      if (loss === 'infonce') want.extraLoss = undefined;
      assertClose(b, want, cfg, 1e-4, 'blocked vs reference');
      // a second step reuses buffers and sessions and gives the same answer
      const again = await blocked.step(params, batch);
      assertClose(again, a, cfg, 2e-5, 'blocked, second step');
    } finally {
      await fused.dispose();
      await blocked.dispose();
    }
  });
}

test('loss-block graph reproduces the SigLIP and InfoNCE closed forms (N = 2, orthogonal unit vectors)', async () => {
  const v = Float32Array.from([1, 0, 0, 1]);
  const s = 3;
  const b = -1;
  const sig = await createSession(buildLossBlockGraph('siglip', 2), { threads: 1 });
  const out = await sig.run({
    v: f32(v, [2, 2]), t: f32(v, [2, 2]), t_diag: f32(v, [2, 2]),
    logit_scale: f32(Float32Array.of(Math.log(s)), [1]), logit_bias: f32(Float32Array.of(b), [1]), inv_denom: f32(Float32Array.of(1 / 4), [1]),
  });
  // L = [[2, -1], [-1, 2]]: loss = (2 log(1 + e^-2) + 2 log(1 + e^-1)) / 4
  const lossSum = (out.loss_sum.data as Float32Array)[0];
  assert.ok(Math.abs(lossSum / 4 - (2 * Math.log(1 + Math.exp(-2)) + 2 * Math.log(1 + Math.exp(-1))) / 4) < 1e-6);
  assert.ok(Math.abs((out.pos_sum.data as Float32Array)[0] - 2 * Math.log(1 + Math.exp(-2))) < 1e-6);
  const sg = (x: number) => 1 / (1 + Math.exp(-x));
  assert.ok(Math.abs((out.d_logit_bias.data as Float32Array)[0] - (-2 * sg(-2) + 2 * sg(-1)) / 4) < 1e-6);
  await sig.release();

  const nce = await createSession(buildLossBlockGraph('infonce', 2), { threads: 1 });
  // L = 2.5 I; every column log-sum-exp is log(e^2.5 + 1)
  const lse = Math.log(Math.exp(2.5) + 1);
  const o2 = await nce.run({
    v: f32(v, [2, 2]), t: f32(v, [2, 2]), t_diag: f32(v, [2, 2]),
    logit_scale: f32(Float32Array.of(Math.log(2.5)), [1]), inv_denom: f32(Float32Array.of(1 / 2), [1]), lse_col: f32(Float32Array.of(lse, lse), [2]),
  });
  const rowSum = (o2.loss_sum.data as Float32Array)[0];
  const posSum = (o2.pos_sum.data as Float32Array)[0];
  // loss = 0.5 (row + column lse sums) / N - trace / N = log(1 + e^-2.5)
  assert.ok(Math.abs((0.5 * (rowSum + 2 * lse)) / 2 + posSum / 2 - Math.log(1 + Math.exp(-2.5))) < 1e-6);
  await nce.release();
});

test('bad inputs give SailErrors naming the field', async () => {
  const cfg = tinyConfig('linear');
  const engine = await createTrainEngine({ head: cfg, loss: 'siglip', threads: 1 });
  const params: ParamSet = randomParams(cfg, 1);
  try {
    await assert.rejects(engine.step(params, { n: 4, image: new Float32Array(4 * 5), text: new Float32Array(3 * 7) }), (e: unknown) => e instanceof SailError && /batch\.text/.test(e.message));
    const short = params.map((p, i) => (i === 2 ? { ...p, data: new Float32Array(1) } : p));
    await assert.rejects(engine.step(short, makeBatch(cfg, 4, false, 1)), (e: unknown) => e instanceof SailError && /vision_mapping_network\.weight/.test(e.message));
    const nan = makeBatch(cfg, 4, false, 1);
    nan.image[3] = NaN;
    await assert.rejects(engine.step(params, nan), (e: unknown) => e instanceof SailError && /not finite/.test(e.message));
  } finally {
    await engine.dispose();
  }
  await assert.rejects(createTrainEngine({ head: { ...cfg, targetDim: 0 }, loss: 'siglip' }), SailError);
});

test('routing: batches over blockRows, or with too-wide hidden activations, take the blocked path', () => {
  const base = { type: 'star' as const, widthFactor: 8, visionDim: 2048, textDim: 4096, targetDim: 1024, logitScaleInit: 20, logitBiasInit: -10 };
  const batch = (n: number, extra: boolean): Batch => ({ n, image: new Float32Array(0), text: new Float32Array(0), extraText: extra ? new Float32Array(0) : undefined });
  const opts = { head: base, loss: 'siglip' as const };
  // text hidden width 32768: 2048 rows are exactly the limit, doubled rows with extra captions are not
  assert.equal(2048 * 32768, FUSED_MAX_HIDDEN_ELEMENTS);
  assert.equal(fitsFused(opts, batch(2048, false), 8192), true);
  assert.equal(fitsFused(opts, batch(2048, true), 8192), false);
  assert.equal(fitsFused({ ...opts, loss: 'infonce' }, batch(2048, true), 8192), true, 'InfoNCE ignores extra captions');
  const small = { head: { ...base, visionDim: 384, textDim: 384 }, loss: 'siglip' as const };
  assert.equal(fitsFused(small, batch(8192, true), 8192), true);
  assert.equal(fitsFused(small, batch(8193, false), 8192), false);
});

test('float32 accuracy at the real scale and bias (s = 20, b = -10), N = 300, fused and blocked', async () => {
  const cfg: HeadConfig = { type: 'star', widthFactor: 4, visionDim: 32, textDim: 48, targetDim: 16, logitScaleInit: 20, logitBiasInit: -10 };
  const params = randomParams(cfg, 4);
  const batch = makeBatch(cfg, 300, true, 1);
  const want = refStep(cfg, 'siglip', params.map((p) => p.data), batch);
  for (const blockRows of [512, 64]) {
    const engine = await createTrainEngine({ head: cfg, loss: 'siglip', threads: 1, blockRows, headChunkRows: 100 });
    try {
      // the mean over N^2 mostly-tiny negative terms is where float32 loses digits
      assertClose(await engine.step(params, batch), want, cfg, 2e-5, `blockRows ${blockRows}`);
    } finally {
      await engine.dispose();
    }
  }
});

test('loss keeps float32 digits over millions of terms (s = 20, b = -10): N = 2048 fused and blocked, odd N = 1001', async () => {
  // a float32 running sum over all N^2 terms was 0.03% off here and 0.5% off at N = 4096
  const cfg: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: 8, textDim: 8, targetDim: 8, logitScaleInit: 20, logitBiasInit: -10 };
  const params = randomParams(cfg, 4);
  assert.deepEqual([2048, 1001, 40, 300, 6].map(logChunk), [64, 1, 8, 4, 2]);
  for (const [n, blockRows] of [[2048, 4096], [2048, 512], [1001, 2048]]) {
    const batch = makeBatch(cfg, n, false, 3);
    const want = refStep(cfg, 'siglip', params.map((p) => p.data), batch);
    const engine = await createTrainEngine({ head: cfg, loss: 'siglip', threads: 1, blockRows });
    try {
      const got = await engine.step(params, batch);
      for (const k of ['loss', 'positiveLoss', 'negativeLoss'] as const) {
        assert.ok(Math.abs(got[k] - want[k]) <= 1e-5 * Math.abs(want[k]), `N = ${n}, blockRows ${blockRows}: ${k} ${got[k]} vs ${want[k]}`);
      }
    } finally {
      await engine.dispose();
    }
  }
});
