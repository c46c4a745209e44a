// The float64 reference: hand-written gradients against central finite differences, and loss values
// against closed forms computed by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { paramSpecs, type HeadType } from '../../src/head/config.js';
import { refInfoNce, refSiglip, refStep } from '../head/reference.js';
import { randomParams, randomRows, relErr, tinyConfig } from './fixtures.js';

const N = 4;

for (const type of ['star', 'mlp', 'linear'] as HeadType[]) {
  for (const variant of ['siglip', 'siglip+extra', 'infonce'] as const) {
    test(`reference gradients match finite differences: ${type} / ${variant}`, () => {
      const cfg = tinyConfig(type);
      const loss = variant === 'infonce' ? 'infonce' : 'siglip';
      const params = randomParams(cfg, 11).map((p) => Float64Array.from(p.data));
      if (type === 'star') {
        // push one f2 hidden unit of each side past the +-1e3 clamp: its bias must get zero gradient
        for (const side of ['vision', 'text']) {
          const i = paramSpecs(cfg).findIndex((s) => s.name === `${side}_mapping_network.f2.bias`);
          params[i][0] = 2000;
        }
      }
      const batch = {
        n: N,
        image: Float64Array.from(randomRows(N, cfg.visionDim, 1)),
        text: Float64Array.from(randomRows(N, cfg.textDim, 2)),
        extraText: variant === 'siglip+extra' ? Float64Array.from(randomRows(N, cfg.textDim, 3)) : undefined,
      };
      const r = refStep(cfg, loss, params, batch);
      const h = 1e-6;
      paramSpecs(cfg).forEach((spec, k) => {
        const fd = new Float64Array(params[k].length);
        for (let i = 0; i < params[k].length; i++) {
          const keep = params[k][i];
          params[k][i] = keep + h;
          const up = refStep(cfg, loss, params, batch).loss;
          params[k][i] = keep - h;
          const down = refStep(cfg, loss, params, batch).loss;
          params[k][i] = keep;
          fd[i] = (up - down) / (2 * h);
        }
        const e = relErr(r.grads[k], fd, 1e-7);
        assert.ok(e < 1e-5, `${spec.name}: relative error ${e}`);
      });
      if (type === 'star') {
        const i = paramSpecs(cfg).findIndex((s) => s.name === 'vision_mapping_network.f2.bias');
        assert.equal(r.grads[i][0], 0, 'clamped unit passes no gradient');
        assert.notEqual(r.grads[i][1], 0);
      }
      if (loss === 'infonce') assert.equal(r.grads[r.grads.length - 1][0], 0, 'InfoNCE has no bias gradient');
    });
  }
}

test('SigLIP closed form: N = 2, orthogonal unit vectors', () => {
  const v = Float64Array.from([1, 0, 0, 1]);
  const t = Float64Array.from([1, 0, 0, 1]);
  const logS = Math.log(3);
  const b = -1;
  // L = s I + b: diagonal 3 - 1 = 2 (positives), off-diagonal -1 (negatives)
  const pos = Math.log(1 + Math.exp(-2)); // -log sigmoid(2)
  const neg = Math.log(1 + Math.exp(-1)); // -log sigmoid(-(-1)) = log(1 + e^-1)
  const r = refSiglip(v, t, undefined, 2, 2, logS, b);
  assert.ok(Math.abs(r.loss - (2 * pos + 2 * neg) / 4) < 1e-14);
  assert.ok(Math.abs(r.positiveLoss - (2 * pos) / 4) < 1e-14);
  assert.ok(Math.abs(r.negativeLoss - (2 * neg) / 4) < 1e-14);
  // d/db = (2 * -sigmoid(-2) + 2 * sigmoid(-1)) / 4; d/dlogS = s * 2 * -sigmoid(-2) / 4
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  assert.ok(Math.abs(r.dLogitBias - (-2 * sig(-2) + 2 * sig(-1)) / 4) < 1e-14);
  assert.ok(Math.abs(r.dLogitScale - (3 * -2 * sig(-2)) / 4) < 1e-14);

  // extra captions swapped: positives get logit b = -1, negatives s + b = 2
  const e = Float64Array.from([0, 1, 1, 0]);
  const rx = refSiglip(v, t, e, 2, 2, logS, b);
  const extraLoss = (2 * Math.log(1 + Math.exp(1)) + 2 * Math.log(1 + Math.exp(2))) / 4;
  assert.ok(Math.abs(rx.extraLoss! - extraLoss) < 1e-14);
  assert.ok(Math.abs(rx.loss - (2 * pos + 2 * neg + 4 * extraLoss) / 8) < 1e-14);
  assert.ok(Math.abs(rx.positiveLoss - (2 * pos) / 4) < 1e-14, 'positive/negative cover the main caption only');
});

test('InfoNCE closed form: N = 2, orthogonal unit vectors', () => {
  const v = Float64Array.from([1, 0, 0, 1]);
  const logS = Math.log(2.5);
  // L = 2.5 I: every row and column CE is log(e^2.5 + 1) - 2.5 = log(1 + e^-2.5)
  const r = refInfoNce(v, v, 2, 2, logS);
  assert.ok(Math.abs(r.loss - Math.log(1 + Math.exp(-2.5))) < 1e-14);
  assert.ok(Math.abs(r.positiveLoss - -2.5) < 1e-14);
  // d/dlogS = d/ds log(1 + e^-s) * s = -s sigmoid(-s)
  assert.ok(Math.abs(r.dLogitScale - -2.5 / (1 + Math.exp(2.5))) < 1e-14);
});
