// The blocked training path for batches too big for one fused graph (N = 32768: an fp32 N x N matrix
// is 4 GiB). Heads run forward in row chunks to normalised embeddings; the loss runs over row blocks
// of the similarity giving d(loss)/d(embeddings); heads then run backward in chunks (recomputing their
// forward) while parameter gradients are summed here. Peak memory is O(block x N + chunk x hidden).
import { paramSpecs, type ParamSet, type Side } from '../../head/config.js';
import { sideDim, sideParamNames } from '../../head/graph.js';
import { createSession, ort } from '../../onnx/session.js';
import type { Batch, EngineTuning, StepResult } from '../engine-types.js';
import { cpuOnly, take as takeOut, tensor } from './io.js';
import { lossChunk } from './loss.js';
import { buildBackwardGraph, buildForwardGraph, buildInfoNceStatsGraph, buildLossBlockGraph, gradName, neutralName } from './build.js';


function addInto(acc: Float32Array, part: Float32Array, offset = 0): void {
  for (let i = 0; i < part.length; i++) acc[offset + i] += part[i];
}

/**
 * Largest similarity block, in elements: each [rows, N] intermediate (logits, sigmoid, ...) of a loss
 * block is at most 256 MiB, so N = 32768 uses blocks of 2048 rows whatever blockRows says.
 */
export const MAX_BLOCK_ELEMENTS = 1 << 26;

/** Runs the blocked path; sessions are created on first use and reused for every later step. */
export class BlockedRunner {
  private sessions = new Map<string, Promise<ort.InferenceSession>>();
  private buffers = new Map<string, Float32Array>();
  private readonly specs;
  private readonly inPlace: boolean;

  constructor(private readonly opts: EngineTuning, private readonly blockRows: number, private readonly headRows: number) {
    this.specs = paramSpecs(opts.head);
    this.inPlace = cpuOnly(opts.executionProviders);
  }

  private take(out: ort.InferenceSession.ReturnType, name: string, into: Float32Array): Float32Array {
    return takeOut(out, name, into, this.inPlace);
  }

  private session(key: string, build: () => Uint8Array): Promise<ort.InferenceSession> {
    let s = this.sessions.get(key);
    if (!s) {
      s = createSession(build(), { threads: this.opts.threads, executionProviders: this.opts.executionProviders });
      this.sessions.set(key, s);
    }
    return s;
  }

  /** A reusable buffer of exactly `size` floats (re-allocated only when the size changes); optionally zeroed. */
  private buf(key: string, size: number, zero = false): Float32Array {
    let b = this.buffers.get(key);
    if (!b || b.length !== size) {
      b = new Float32Array(size);
      this.buffers.set(key, b);
    } else if (zero) b.fill(0);
    return b;
  }

  private sideFeeds(params: ParamSet, side: Side): Record<string, ort.Tensor> {
    const names = new Set(sideParamNames(this.opts.head, side));
    const feeds: Record<string, ort.Tensor> = {};
    for (const p of params) if (names.has(p.name)) feeds[neutralName(p.name)] = tensor(p.data, p.shape);
    return feeds;
  }

  /** Normalised head outputs of `x` [n, d] into `out` [n, D] and 1/|z| into `invNorm` [n], chunk by chunk. */
  private async forward(params: ParamSet, side: Side, x: Float32Array, n: number, out: Float32Array, invNorm: Float32Array): Promise<void> {
    const cfg = this.opts.head;
    const d = sideDim(cfg, side);
    const o = cfg.targetDim;
    const s = await this.session('fwd', () => buildForwardGraph(cfg));
    const feeds = this.sideFeeds(params, side);
    for (let i0 = 0; i0 < n; i0 += this.headRows) {
      const r = Math.min(this.headRows, n - i0);
      feeds.x = tensor(x.subarray(i0 * d, (i0 + r) * d), [r, d]);
      const dst = out.subarray(i0 * o, (i0 + r) * o);
      const inv = invNorm.subarray(i0, i0 + r);
      const res = await s.run(feeds, { v: tensor(dst, [r, o]), inv_norm: tensor(inv, [r, 1]) });
      this.take(res, 'v', dst);
      this.take(res, 'inv_norm', inv);
    }
  }

  /** Backpropagate dv [n, D] through one side's head (v, invNorm: its forward outputs); adds parameter gradients into `grads`. */
  private async backward(
    params: ParamSet, side: Side, x: Float32Array, fwd: { v: Float32Array; invNorm: Float32Array }, dv: Float32Array, n: number, grads: Map<string, Float32Array>,
  ): Promise<void> {
    const cfg = this.opts.head;
    const d = sideDim(cfg, side);
    const o = cfg.targetDim;
    const s = await this.session('bwd', () => buildBackwardGraph(cfg));
    const feeds = this.sideFeeds(params, side);
    const names = sideParamNames(cfg, side);
    for (let i0 = 0; i0 < n; i0 += this.headRows) {
      const r = Math.min(this.headRows, n - i0);
      feeds.x = tensor(x.subarray(i0 * d, (i0 + r) * d), [r, d]);
      feeds.dv = tensor(dv.subarray(i0 * o, (i0 + r) * o), [r, o]);
      feeds.v = tensor(fwd.v.subarray(i0 * o, (i0 + r) * o), [r, o]);
      feeds.inv_norm = tensor(fwd.invNorm.subarray(i0, i0 + r), [r, 1]);
      const fetches: Record<string, ort.Tensor> = {};
      const scratch = names.map((name) => {
        const spec = this.specs.find((p) => p.name === name)!;
        const b = this.buf(`g:${name}`, spec.shape.reduce((a, c) => a * c, 1));
        fetches[gradName(neutralName(name))] = tensor(b, spec.shape);
        return b;
      });
      const out = await s.run(feeds, fetches);
      names.forEach((name, k) => addInto(grads.get(name)!, this.take(out, gradName(neutralName(name)), scratch[k])));
    }
  }

  /**
   * Loss over row blocks of V against T. Adds d/dV into dV, d/dT into dT; returns the raw sums.
   * `lseCol` switches to InfoNCE.
   */
  private async lossBlocks(
    v: Float32Array, t: Float32Array, n: number, params: { logS: number; b: number; invDenom: number },
    dV: Float32Array, dT: Float32Array, lseCol?: Float32Array,
  ): Promise<{ lossSum: number; posSum: number; dLogS: number; dB: number }> {
    const o = this.opts.head.targetDim;
    const loss = lseCol ? 'infonce' : 'siglip';
    const chunk = lossChunk(loss, n);
    const s = await this.session(`loss:${loss}:${chunk}`, () => buildLossBlockGraph(loss, o, chunk));
    const feeds: Record<string, ort.Tensor> = {
      t: tensor(t, [n, o]),
      logit_scale: tensor(Float32Array.of(params.logS), [1]),
      inv_denom: tensor(Float32Array.of(params.invDenom), [1]),
    };
    if (lseCol) feeds.lse_col = tensor(lseCol, [n]);
    else feeds.logit_bias = tensor(Float32Array.of(params.b), [1]);
    const dt = this.buf('dt', n * o);
    const rows = Math.max(1, Math.min(this.blockRows, Math.floor(MAX_BLOCK_ELEMENTS / n)));
    const sums = { lossSum: 0, posSum: 0, dLogS: 0, dB: 0 };
    const sc = { loss_sum: new Float32Array(1), pos_sum: new Float32Array(1), d_logit_scale: new Float32Array(1), d_logit_bias: new Float32Array(1) };
    for (let i0 = 0; i0 < n; i0 += rows) {
      const r = Math.min(rows, n - i0);
      feeds.v = tensor(v.subarray(i0 * o, (i0 + r) * o), [r, o]);
      feeds.t_diag = tensor(t.subarray(i0 * o, (i0 + r) * o), [r, o]);
      const dv = this.buf(`dv:${r}`, r * o);
      const dtDiag = this.buf(`dtd:${r}`, r * o);
      const fetches: Record<string, ort.Tensor> = { dv: tensor(dv, [r, o]), dt: tensor(dt, [n, o]), dt_diag: tensor(dtDiag, [r, o]) };
      for (const k of ['loss_sum', 'pos_sum', 'd_logit_scale'] as const) fetches[k] = tensor(sc[k], [1]);
      if (!lseCol) fetches.d_logit_bias = tensor(sc.d_logit_bias, [1]);
      const out = await s.run(feeds, fetches);
      addInto(dV, this.take(out, 'dv', dv), i0 * o);
      addInto(dT, this.take(out, 'dt', dt));
      addInto(dT, this.take(out, 'dt_diag', dtDiag), i0 * o);
      sums.lossSum += this.take(out, 'loss_sum', sc.loss_sum)[0];
      sums.posSum += this.take(out, 'pos_sum', sc.pos_sum)[0];
      sums.dLogS += this.take(out, 'd_logit_scale', sc.d_logit_scale)[0];
      if (!lseCol) sums.dB += this.take(out, 'd_logit_bias', sc.d_logit_bias)[0];
    }
    return sums;
  }

  /** InfoNCE column log-sum-exp over all rows, combined from per-block (max, sum exp) pairs. */
  private async columnLse(v: Float32Array, t: Float32Array, n: number, logS: number): Promise<Float32Array> {
    const o = this.opts.head.targetDim;
    const s = await this.session('stats', () => buildInfoNceStatsGraph(o));
    const mx = new Float64Array(n).fill(-Infinity);
    const se = new Float64Array(n);
    const bm = this.buf('cmax', n);
    const bs = this.buf('csum', n);
    const rows = Math.max(1, Math.min(this.blockRows, Math.floor(MAX_BLOCK_ELEMENTS / n)));
    for (let i0 = 0; i0 < n; i0 += rows) {
      const r = Math.min(rows, n - i0);
      const out = await s.run(
        { v: tensor(v.subarray(i0 * o, (i0 + r) * o), [r, o]), t: tensor(t, [n, o]), logit_scale: tensor(Float32Array.of(logS), [1]) },
        { col_max: tensor(bm, [n]), col_sum_exp: tensor(bs, [n]) },
      );
      this.take(out, 'col_max', bm);
      this.take(out, 'col_sum_exp', bs);
      for (let j = 0; j < n; j++) {
        const m = Math.max(mx[j], bm[j]);
        se[j] = se[j] * Math.exp(mx[j] - m) + bs[j] * Math.exp(bm[j] - m);
        mx[j] = m;
      }
    }
    const lse = this.buf('lse', n);
    for (let j = 0; j < n; j++) lse[j] = mx[j] + Math.log(se[j]);
    return lse;
  }

  async step(params: ParamSet, batch: Batch): Promise<StepResult> {
    const cfg = this.opts.head;
    const o = cfg.targetDim;
    const n = batch.n;
    const extra = this.opts.loss === 'siglip' && batch.extraText !== undefined;
    const V = this.buf('V', n * o);
    const T = this.buf('T', n * o);
    const E = extra ? this.buf('E', n * o) : undefined;
    const NV = this.buf('NV', n);
    const NT = this.buf('NT', n);
    const NE = extra ? this.buf('NE', n) : undefined;
    await this.forward(params, 'vision', batch.image, n, V, NV);
    await this.forward(params, 'text', batch.text, n, T, NT);
    if (E) await this.forward(params, 'text', batch.extraText!, n, E, NE!);

    const dV = this.buf('dV', n * o, true);
    const dT = this.buf('dT', n * o, true);
    const dE = E ? this.buf('dE', n * o, true) : undefined;
    const byName = (name: string) => params.find((p) => p.name === name)!.data[0];
    const logS = byName('logit_scale');
    const b = byName('logit_bias');
    let res: Omit<StepResult, 'grads'>;
    let dLogS: number;
    let dB: number;
    if (this.opts.loss === 'siglip') {
      const invDenom = 1 / ((extra ? 2 : 1) * n * n);
      const m = await this.lossBlocks(V, T, n, { logS, b, invDenom }, dV, dT);
      const e = E && dE ? await this.lossBlocks(V, E, n, { logS, b, invDenom }, dV, dE) : undefined;
      const nn = n * n;
      res = {
        loss: (m.lossSum + (e?.lossSum ?? 0)) * invDenom,
        positiveLoss: m.posSum / nn,
        negativeLoss: (m.lossSum - m.posSum) / nn,
      };
      if (e) res.extraLoss = e.lossSum / nn;
      dLogS = m.dLogS + (e?.dLogS ?? 0);
      dB = m.dB + (e?.dB ?? 0);
    } else {
      const lseCol = await this.columnLse(V, T, n, logS);
      const r = await this.lossBlocks(V, T, n, { logS, b, invDenom: 1 / n }, dV, dT, lseCol);
      let colSum = 0;
      for (let j = 0; j < n; j++) colSum += lseCol[j];
      const positiveLoss = r.posSum / n;
      const negativeLoss = (0.5 * (r.lossSum + colSum)) / n;
      res = { loss: positiveLoss + negativeLoss, positiveLoss, negativeLoss };
      dLogS = r.dLogS;
      dB = 0;
    }

    const grads = new Map<string, Float32Array>();
    for (const s of this.specs) grads.set(s.name, this.buf(`G:${s.name}`, s.shape.reduce((a, c) => a * c, 1), true));
    await this.backward(params, 'vision', batch.image, { v: V, invNorm: NV }, dV, n, grads);
    await this.backward(params, 'text', batch.text, { v: T, invNorm: NT }, dT, n, grads);
    if (E && dE) await this.backward(params, 'text', batch.extraText!, { v: E, invNorm: NE! }, dE, n, grads);
    grads.get('logit_scale')![0] = dLogS;
    grads.get('logit_bias')![0] = dB;
    return { ...res, grads: this.specs.map((s) => grads.get(s.name)!) };
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
    this.buffers.clear();
  }
}
