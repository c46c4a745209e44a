// Lion and AdamW updating float32 parameters in place (sail-method.md section 7.2).
import { paramSpecs, type HeadConfig, type ParamSet } from '../head/config.js';
import { SailError } from '../util/errors.js';
import { updateKernels, type UpdateKernels } from './update-kernels.js';

export type OptimizerKind = 'lion' | 'adamw';

export interface OptimizerHyper {
  /** Decoupled weight decay. */
  weightDecay: number;
  /** Default 0.9 (Lion and AdamW, as in the original's params.py). */
  beta1?: number;
  /** Default 0.99 for both: the original's Lion and its AdamW default (sail-method.md 7.1). */
  beta2?: number;
  /** AdamW only; default 1e-8 (open_clip's table for non-ViT names; sail-method.md does not record it). */
  eps?: number;
}

/**
 * Defaults of the original's training parameters (sail-method.md 7.1, "CLI default" column): AdamW lr
 * 5e-4 (open_clip's table), wd 0.2, betas 0.9/0.99. Lion keeps the paper's betas 0.9/0.99 and wd 1e-4;
 * its lr here is 1e-4, not the paper's 1e-5, which is tuned for batch 32,768 over ~70k steps.
 */
export const OPTIMIZER_DEFAULTS: Record<OptimizerKind, { lr: number; weightDecay: number; beta1: number; beta2: number; eps?: number }> = {
  lion: { lr: 1e-4, weightDecay: 1e-4, beta1: 0.9, beta2: 0.99 },
  adamw: { lr: 5e-4, weightDecay: 0.2, beta1: 0.9, beta2: 0.99, eps: 1e-8 },
};

/** One optimizer state tensor, named `<param>.<moment>` (e.g. `text_layer_norm.bias.exp_avg`). */
export interface StateTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface Optimizer {
  readonly kind: OptimizerKind;
  /** Steps taken so far (AdamW bias correction uses it). */
  readonly steps: number;
  /** Apply one update with learning rate `lr`; grads are in ParamSet order. */
  step(params: ParamSet, grads: Float32Array[], lr: number): void;
  /** Moments, for checkpoints. */
  stateTensors(): StateTensor[];
  /** Restore moments and the step count from a checkpoint. */
  load(tensors: Map<string, Float32Array>, steps: number, file: string): void;
}

/** Hyperparameters with the defaults filled in (OPTIMIZER_DEFAULTS: betas 0.9/0.99 for both, eps 1e-8). */
export function resolveOptimizerHyper(kind: OptimizerKind, hyper: OptimizerHyper): Required<OptimizerHyper> {
  const d = OPTIMIZER_DEFAULTS[kind];
  return { weightDecay: hyper.weightDecay, beta1: hyper.beta1 ?? d.beta1, beta2: hyper.beta2 ?? d.beta2, eps: hyper.eps ?? OPTIMIZER_DEFAULTS.adamw.eps! };
}

/**
 * Create an optimizer for the parameters in `params` (their order and shapes are fixed from here on).
 * `decay[i]` says whether AdamW decays parameter i; Lion ignores it and decays all, like the reference.
 * `kernels`: the element-wise update (default: WebAssembly SIMD where available; both give the same bits).
 */
export function createOptimizer(kind: OptimizerKind, params: ParamSet, hyper: OptimizerHyper, decay?: boolean[], kernels: UpdateKernels = updateKernels()): Optimizer {
  const { beta1: b1, beta2: b2, eps, weightDecay: wd } = resolveOptimizerHyper(kind, hyper);
  for (const [name, b] of [['beta1', b1], ['beta2', b2]] as const) {
    if (!(b >= 0 && b < 1)) throw new SailError(`${name} must be in [0, 1), got ${b}`);
  }
  const m = params.map((p) => new Float32Array(p.data.length));
  const v = kind === 'adamw' ? params.map((p) => new Float32Array(p.data.length)) : [];
  const decays = decay ?? params.map((p) => p.shape.length >= 2);
  let t = 0;

  const check = (ps: ParamSet, grads: Float32Array[]) => {
    if (ps.length !== m.length || grads.length !== m.length) throw new SailError(`optimizer: got ${ps.length} params and ${grads.length} grads, expected ${m.length}`);
    for (let i = 0; i < m.length; i++) {
      if (ps[i].data.length !== m[i].length || grads[i].length !== m[i].length) {
        throw new SailError(`optimizer: ${ps[i].name} has ${ps[i].data.length} values and ${grads[i].length} grads, expected ${m[i].length}`);
      }
    }
  };

  return {
    kind,
    get steps() {
      return t;
    },
    step(ps, grads, lr) {
      check(ps, grads);
      t += 1;
      if (kind === 'lion') {
        const args = { lr, decayMul: 1 - lr * wd, b1, b2 };
        for (let i = 0; i < ps.length; i++) kernels.lion(ps[i].data, grads[i], m[i], args);
      } else {
        const bc1 = 1 - b1 ** t;
        const bc2 = 1 - b2 ** t;
        const common = { b1, b2, stepSize: lr / bc1, bc2Sqrt: Math.sqrt(bc2), eps };
        for (let i = 0; i < ps.length; i++) kernels.adamw(ps[i].data, grads[i], m[i], v[i], { ...common, decayMul: decays[i] ? 1 - lr * wd : 1 });
      }
    },
    stateTensors() {
      const out: StateTensor[] = params.map((p, i) => ({ name: `${p.name}.exp_avg`, shape: p.shape, data: m[i] }));
      if (kind === 'adamw') params.forEach((p, i) => out.push({ name: `${p.name}.exp_avg_sq`, shape: p.shape, data: v[i] }));
      return out;
    },
    load(tensors, steps, file) {
      const restore = (dst: Float32Array[], suffix: string) => {
        params.forEach((p, i) => {
          const src = tensors.get(`${p.name}.${suffix}`);
          if (!src) throw new SailError(`optimizer state has no tensor ${p.name}.${suffix}`, { file });
          if (src.length !== dst[i].length) throw new SailError(`optimizer tensor ${p.name}.${suffix} has ${src.length} values, expected ${dst[i].length}`, { file });
          dst[i].set(src);
        });
      };
      restore(m, 'exp_avg');
      if (kind === 'adamw') restore(v, 'exp_avg_sq');
      t = steps;
    },
  };
}

/** AdamW decay mask from the head's parameter kinds: only Linear weights are decayed (section 7.2). */
export function adamwDecayMask(cfg: HeadConfig): boolean[] {
  return paramSpecs(cfg).map((s) => s.kind === 'weight');
}
