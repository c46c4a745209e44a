// The training math engine: loss and gradients of the head for one batch, computed by onnxruntime
// running hand-written forward+backward graphs. Batches up to `blockRows` run as one fused graph;
// larger ones go through the blocked path (row chunks; the N x N similarity is never materialised).
import { SailError } from '../util/errors.js';
import { paramSpecs, type HeadConfig, type ParamSet } from '../head/config.js';
import { createSession, ort } from '../onnx/session.js';
import type { Batch, EngineOptions, EngineTuning, StepResult, TrainEngine } from './engine-types.js';
import { buildFusedGraph, gradName } from './graphs/build.js';
import { BlockedRunner } from './graphs/blocked.js';
import { cpuOnly, take as takeOut, tensor } from './graphs/io.js';
import { lossChunk } from './graphs/loss.js';

/** Default row-block size: an 8192 x 8192 fp32 similarity block is 256 MiB. */
export const DEFAULT_BLOCK_ROWS = 8192;

/**
 * Head chunk rows for the blocked path: at most blockRows, and small enough that one [rows, hidden]
 * intermediate stays near 128 MiB (about ten of them are alive during a chunk's backward).
 */
export function defaultHeadChunkRows(cfg: HeadConfig, blockRows: number): number {
  const hidden = hiddenWidth(cfg, Math.max(cfg.visionDim, cfg.textDim));
  return Math.max(1, Math.min(blockRows, Math.max(256, Math.floor((1 << 25) / hidden))));
}

/** Largest [rows, hidden] intermediate the fused graph may hold, in elements (256 MiB in fp32). */
export const FUSED_MAX_HIDDEN_ELEMENTS = 1 << 26;

/** Hidden width of one side's head (the widest intermediate of its forward). */
function hiddenWidth(cfg: HeadConfig, d: number): number {
  return cfg.type === 'star' ? cfg.widthFactor * d : cfg.type === 'mlp' ? 4 * d : Math.max(d, cfg.targetDim);
}

/**
 * Whether a batch runs as one fused graph: n <= blockRows, and no side's hidden activations exceed
 * FUSED_MAX_HIDDEN_ELEMENTS (wide heads such as a 4096 -> 32768 star go blocked sooner).
 */
export function fitsFused(opts: EngineOptions, batch: Batch, blockRows: number): boolean {
  const cfg = opts.head;
  const textRows = opts.loss === 'siglip' && batch.extraText ? 2 * batch.n : batch.n;
  return (
    batch.n <= blockRows &&
    batch.n * hiddenWidth(cfg, cfg.visionDim) <= FUSED_MAX_HIDDEN_ELEMENTS &&
    textRows * hiddenWidth(cfg, cfg.textDim) <= FUSED_MAX_HIDDEN_ELEMENTS
  );
}

function checkConfig(opts: EngineTuning): void {
  const c: HeadConfig = opts.head;
  for (const k of ['visionDim', 'textDim', 'targetDim'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1) throw new SailError(`head config: ${k} must be a positive integer, got ${c[k]}`);
  }
  if (c.type === 'star' && (!Number.isInteger(c.widthFactor) || c.widthFactor < 1)) {
    throw new SailError(`head config: widthFactor must be a positive integer, got ${c.widthFactor}`);
  }
  if (!['star', 'mlp', 'linear'].includes(c.type)) throw new SailError(`head config: unknown head type ${String(c.type)}`);
  if (opts.loss !== 'siglip' && opts.loss !== 'infonce') throw new SailError(`unknown loss ${String(opts.loss)}`);
  for (const k of ['blockRows', 'headChunkRows', 'threads'] as const) {
    const v = opts[k];
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new SailError(`engine option ${k} must be a positive integer, got ${v}`);
  }
}

/** Throws a SailError naming the parameter or batch field whose size does not match the config. */
export function validateStepInputs(cfg: HeadConfig, params: ParamSet, batch: Batch): void {
  const specs = paramSpecs(cfg);
  if (params.length !== specs.length) throw new SailError(`expected ${specs.length} parameter tensors, got ${params.length}`);
  specs.forEach((s, i) => {
    const p = params[i];
    const size = s.shape.reduce((a, b) => a * b, 1);
    if (p.name !== s.name) throw new SailError(`parameter ${i}: expected ${s.name}, got ${p.name}`);
    if (p.data.length !== size) throw new SailError(`parameter ${s.name}: expected ${size} values [${s.shape}], got ${p.data.length}`);
  });
  const n = batch.n;
  if (!Number.isInteger(n) || n < 1) throw new SailError(`batch: n must be a positive integer, got ${n}`);
  const check = (field: string, arr: Float32Array | undefined, dim: number) => {
    if (arr && arr.length !== n * dim) throw new SailError(`batch.${field}: expected ${n} x ${dim} = ${n * dim} values, got ${arr.length}`);
  };
  check('image', batch.image, cfg.visionDim);
  check('text', batch.text, cfg.textDim);
  check('extraText', batch.extraText, cfg.textDim);
}

/**
 * Runs the fused graph. Gradient buffers are allocated once and reused: onnxruntime writes into them
 * directly (pre-allocated fetches), so steady-state steps allocate no large arrays.
 */
class FusedRunner {
  /** By extra captions and log chunk (lossChunk): most runs use one batch size, so one session. */
  private sessions = new Map<string, Promise<ort.InferenceSession>>();
  private grads: Float32Array[] = [];
  private readonly scalars = { loss: new Float32Array(1), positive_loss: new Float32Array(1), negative_loss: new Float32Array(1), extra_loss: new Float32Array(1) };

  constructor(private readonly opts: EngineTuning) {}

  private session(extra: boolean, n: number): Promise<ort.InferenceSession> {
    const chunk = lossChunk(this.opts.loss, n);
    const key = `${extra}:${chunk}`;
    let s = this.sessions.get(key);
    if (!s) {
      s = createSession(buildFusedGraph(this.opts.head, this.opts.loss, extra, chunk), { threads: this.opts.threads, executionProviders: this.opts.executionProviders });
      this.sessions.set(key, s);
    }
    return s;
  }

  async step(params: ParamSet, batch: Batch): Promise<StepResult> {
    const cfg = this.opts.head;
    const extra = this.opts.loss === 'siglip' && batch.extraText !== undefined;
    const session = await this.session(extra, batch.n);
    if (!this.grads.length) this.grads = paramSpecs(cfg).map((s) => new Float32Array(s.shape.reduce((a, b) => a * b, 1)));
    const n = batch.n;
    const feeds: Record<string, ort.Tensor> = {};
    for (const p of params) feeds[p.name] = tensor(p.data, p.shape);
    feeds.image = tensor(batch.image, [n, cfg.visionDim]);
    feeds.text = tensor(batch.text, [n, cfg.textDim]);
    if (extra) feeds.extra_text = tensor(batch.extraText!, [n, cfg.textDim]);
    const invDenom = this.opts.loss === 'siglip' ? 1 / ((extra ? 2 : 1) * n * n) : 1 / n;
    feeds.inv_denom = tensor(Float32Array.of(invDenom), [1]);
    const fetches: Record<string, ort.Tensor> = {};
    const names: (keyof typeof this.scalars)[] = ['loss', 'positive_loss', 'negative_loss'];
    if (extra) names.push('extra_loss');
    for (const k of names) {
      fetches[k] = tensor(this.scalars[k], [1]);
    }
    paramSpecs(cfg).forEach((s, i) => (fetches[gradName(s.name)] = tensor(this.grads[i], s.shape)));
    const out = await session.run(feeds, fetches);
    const inPlace = cpuOnly(this.opts.executionProviders);
    const take = (name: string, into: Float32Array): Float32Array => takeOut(out, name, into, inPlace);
    const loss = take('loss', this.scalars.loss)[0];
    const res: StepResult = {
      loss,
      positiveLoss: take('positive_loss', this.scalars.positive_loss)[0],
      negativeLoss: take('negative_loss', this.scalars.negative_loss)[0],
      grads: paramSpecs(cfg).map((s, i) => take(gradName(s.name), this.grads[i])),
    };
    if (extra) res.extraLoss = take('extra_loss', this.scalars.extra_loss)[0];
    return res;
  }

  async dispose(): Promise<void> {
    for (const s of this.sessions.values()) await (await s).release();
    this.sessions.clear();
  }
}

/**
 * Create the training engine. `step()` returns the loss values and gradients in paramSpecs order.
 * The gradient arrays are owned by the engine and overwritten by the next `step()` call: copy them
 * if they must outlive it. Steps must not overlap (await each one).
 */
export async function createTrainEngine(opts: EngineTuning): Promise<TrainEngine> {
  checkConfig(opts);
  const blockRows = opts.blockRows ?? DEFAULT_BLOCK_ROWS;
  const fused = new FusedRunner(opts);
  let blocked: BlockedRunner | undefined;
  let busy = false;
  return {
    async step(params, batch) {
      if (busy) throw new SailError('TrainEngine.step called while a previous step is still running');
      validateStepInputs(opts.head, params, batch);
      busy = true;
      try {
        let res: StepResult;
        if (fitsFused(opts, batch, blockRows)) res = await fused.step(params, batch);
        else {
          blocked ??= new BlockedRunner(opts, blockRows, opts.headChunkRows ?? defaultHeadChunkRows(opts.head, blockRows));
          res = await blocked.step(params, batch);
        }
        if (!Number.isFinite(res.loss)) throw new SailError(`loss is not finite (${res.loss}): check the inputs for NaN/Inf`);
        return res;
      } finally {
        busy = false;
      }
    },
    async dispose() {
      await fused.dispose();
      await blocked?.dispose();
    },
  };
}
