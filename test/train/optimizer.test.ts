import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createOptimizer, adamwDecayMask } from '../../src/train/optimizer.js';
import { defaultWarmup, lrAt, makeSchedule } from '../../src/train/schedule.js';
import { clampLogitScale } from '../../src/head/init.js';
import type { HeadConfig, ParamSet } from '../../src/head/config.js';
import { initParams } from '../../src/head/init.js';
import { Rng } from '../../src/util/rng.js';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-6 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

function params(): ParamSet {
  return [
    { name: 'w.weight', shape: [2, 2], data: Float32Array.from([0.5, -0.25, 1.5, 2]) },
    { name: 'w.bias', shape: [2], data: Float32Array.from([0.1, -0.2]) },
    { name: 'logit_scale', shape: [1], data: Float32Array.from([Math.log(20)]) },
  ];
}

test('Lion matches a hand-computed float64 update over two steps (momentum interpolation, decay on every tensor)', () => {
  const ps = params();
  const p0 = ps.map((p) => Array.from(p.data));
  const lr = 0.01;
  const wd = 0.5;
  const opt = createOptimizer('lion', ps, { weightDecay: wd });
  const g1 = [Float32Array.from([10, -3, 0, 1]), Float32Array.from([2, -2]), Float32Array.from([0.5])];
  const g2 = [Float32Array.from([-0.5, 0.2, -1, -1]), Float32Array.from([-0.1, 0.3]), Float32Array.from([-4])];
  opt.step(ps, g1, lr);
  opt.step(ps, g2, lr);
  for (let i = 0; i < ps.length; i++) {
    for (let j = 0; j < ps[i].data.length; j++) {
      // step 1: m = 0, so the update direction is sign(g1)
      const a = g1[i][j];
      const p1 = p0[i][j] * (1 - lr * wd) - lr * Math.sign(0.1 * a);
      const m1 = 0.01 * a;
      const b = g2[i][j];
      const c = 0.9 * m1 + 0.1 * b;
      const p2 = p1 * (1 - lr * wd) - lr * Math.sign(c);
      close(ps[i].data[j], p2, `${ps[i].name}[${j}]`);
      close(opt.stateTensors()[i].data[j], 0.99 * m1 + 0.01 * b, `m ${ps[i].name}[${j}]`);
    }
  }
  // g1 = 10 then g2 = -0.5: the interpolated momentum is still positive, so the weight moved down twice
  close(ps[0].data[0], (0.5 * 0.995 - 0.01) * 0.995 - 0.01, 'direction from momentum');
  assert.equal(opt.steps, 2);
});

test('AdamW matches the bias-corrected update; no decay for biases and logit_scale', () => {
  // a real head's parameters and the decay mask training uses (adamwDecayMask), not a copy of its rule
  const cfg: HeadConfig = { type: 'linear', widthFactor: 1, visionDim: 2, textDim: 3, targetDim: 2, logitScaleInit: 20, logitBiasInit: -10 };
  const ps = initParams(cfg, new Rng(1));
  const mask = adamwDecayMask(cfg);
  const decayed = ps.filter((_, i) => mask[i]).map((p) => p.name);
  assert.deepEqual(decayed, ['vision_mapping_network.weight', 'text_mapping_network.weight'], 'only Linear weights decay');
  const p0 = ps.map((p) => Array.from(p.data));
  const lr = 0.1;
  const wd = 0.2;
  const eps = 1e-8;
  const opt = createOptimizer('adamw', ps, { weightDecay: wd, beta1: 0.9, beta2: 0.999, eps }, mask);
  const rng = new Rng(2);
  const grads = () => ps.map((p) => new Float32Array(p.data.length).map(() => rng.normal()));
  const g1 = grads();
  const g2 = grads();
  opt.step(ps, g1, lr);
  // after one step the closed form is p*(1 - lr*wd*decay) - lr * g / (|g| + eps)
  const after1 = ps.map((p) => Array.from(p.data));
  for (let i = 0; i < ps.length; i++) {
    for (let j = 0; j < ps[i].data.length; j++) {
      const g = g1[i][j];
      close(after1[i][j], p0[i][j] * (mask[i] ? 1 - lr * wd : 1) - (lr * g) / (Math.abs(g) + eps), `step1 ${ps[i].name}[${j}]`);
    }
  }
  opt.step(ps, g2, lr);
  for (let i = 0; i < ps.length; i++) {
    for (let j = 0; j < ps[i].data.length; j++) {
      const m = 0.9 * 0.1 * g1[i][j] + 0.1 * g2[i][j];
      const v = 0.999 * 0.001 * g1[i][j] ** 2 + 0.001 * g2[i][j] ** 2;
      const mhat = m / (1 - 0.9 ** 2);
      const vhat = v / (1 - 0.999 ** 2);
      const want = after1[i][j] * (mask[i] ? 1 - lr * wd : 1) - (lr * mhat) / (Math.sqrt(vhat) + eps);
      close(ps[i].data[j], want, `step2 ${ps[i].name}[${j}]`);
    }
  }
});

test('AdamW decay mask follows the head parameter kinds', () => {
  const mask = adamwDecayMask({ type: 'linear', widthFactor: 8, visionDim: 3, textDim: 2, targetDim: 4, logitScaleInit: 20, logitBiasInit: -10 });
  // vision LN w/b, weight, bias; text LN w/b, weight, bias; logit_scale, logit_bias
  assert.deepEqual(mask, [false, false, true, false, false, false, true, false, false, false]);
});

test('logit_scale is clamped to [0, ln 100] after a step', () => {
  const ps = params();
  ps[2].data[0] = 4.7;
  clampLogitScale(ps);
  assert.equal(ps[2].data[0], Math.fround(Math.log(100)));
  ps[2].data[0] = -0.1;
  clampLogitScale(ps);
  assert.equal(ps[2].data[0], 0);
});

test('schedule: warmup = ceil(10%), linear warmup then cosine to zero', () => {
  assert.equal(defaultWarmup(10), 1);
  assert.equal(defaultWarmup(25), 3);
  assert.equal(defaultWarmup(1), 1);
  const s = makeSchedule(0.3, 25);
  assert.equal(s.warmup, 3);
  close(lrAt(s, 0), 0.1, 'first warmup step');
  close(lrAt(s, 1), 0.2, 'second warmup step');
  close(lrAt(s, 2), 0.3, 'end of warmup');
  assert.equal(lrAt(s, 3), 0.3);
  close(lrAt(s, 14), 0.15, 'half-way through the cosine'); // (14 - 3) / 22 = 1/2
  close(lrAt(s, 24), 0.5 * (1 + Math.cos((Math.PI * 21) / 22)) * 0.3, 'last step');
  close(lrAt(s, 25), 0, 'reaches zero');
  const w = makeSchedule(1, 10, 0);
  assert.equal(lrAt(w, 0), 1);
  assert.throws(() => makeSchedule(1, 10, 11), /warmup steps must be an integer in 0\.\.10/);
  assert.throws(() => makeSchedule(1, 0), /total steps/);
});
