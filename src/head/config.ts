// What an alignment head is: its type, widths, and the names of its tensors (as in the original state dict).

/** Head architecture (sail-method.md section 5). */
export type HeadType = 'star' | 'mlp' | 'linear';

/** Everything needed to rebuild a head; saved next to every checkpoint as JSON. */
export interface HeadConfig {
  type: HeadType;
  /** Hidden width = widthFactor x input width (star only; mlp uses 4x). */
  widthFactor: number;
  visionDim: number;
  textDim: number;
  /** Shared output width. */
  targetDim: number;
  /** Initial effective logit scale (parameter stores its log). */
  logitScaleInit: number;
  logitBiasInit: number;
  /** Backbone ids, informational (e.g. 'dinov2-large:concat', 'gte-large-en-v1.5'). */
  visionModel?: string;
  textModel?: string;
}

export const HEAD_TYPES: readonly HeadType[] = ['star', 'mlp', 'linear'];

export const defaultHeadConfig = {
  type: 'star' as HeadType,
  widthFactor: 8,
  targetDim: 1024,
  logitScaleInit: 20,
  logitBiasInit: -10,
};

/** One learnable tensor; Linear weights are [out, in] like PyTorch. */
export interface ParamTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** Ordered parameter list; order is fixed by {@link paramSpecs}. */
export type ParamSet = ParamTensor[];

export type Side = 'vision' | 'text';

/** Names and shapes of every parameter of a head, in a fixed order. */
export function paramSpecs(cfg: HeadConfig): { name: string; shape: number[]; kind: 'ln_weight' | 'ln_bias' | 'weight' | 'bias' | 'scalar' }[] {
  const specs: ReturnType<typeof paramSpecs> = [];
  for (const side of ['vision', 'text'] as Side[]) {
    const d = side === 'vision' ? cfg.visionDim : cfg.textDim;
    specs.push({ name: `${side}_layer_norm.weight`, shape: [d], kind: 'ln_weight' });
    specs.push({ name: `${side}_layer_norm.bias`, shape: [d], kind: 'ln_bias' });
    const m = `${side}_mapping_network`;
    if (cfg.type === 'star') {
      const h = cfg.widthFactor * d;
      specs.push({ name: `${m}.f1.weight`, shape: [h, d], kind: 'weight' });
      specs.push({ name: `${m}.f1.bias`, shape: [h], kind: 'bias' });
      specs.push({ name: `${m}.f2.weight`, shape: [h, d], kind: 'weight' });
      specs.push({ name: `${m}.f2.bias`, shape: [h], kind: 'bias' });
      specs.push({ name: `${m}.g.weight`, shape: [cfg.targetDim, h], kind: 'weight' });
      specs.push({ name: `${m}.g.bias`, shape: [cfg.targetDim], kind: 'bias' });
    } else if (cfg.type === 'mlp') {
      const h = 4 * d;
      specs.push({ name: `${m}.proj.0.weight`, shape: [h, d], kind: 'weight' });
      specs.push({ name: `${m}.proj.0.bias`, shape: [h], kind: 'bias' });
      specs.push({ name: `${m}.proj.2.weight`, shape: [cfg.targetDim, h], kind: 'weight' });
      specs.push({ name: `${m}.proj.2.bias`, shape: [cfg.targetDim], kind: 'bias' });
    } else {
      specs.push({ name: `${m}.weight`, shape: [cfg.targetDim, d], kind: 'weight' });
      specs.push({ name: `${m}.bias`, shape: [cfg.targetDim], kind: 'bias' });
    }
  }
  specs.push({ name: 'logit_scale', shape: [1], kind: 'scalar' });
  specs.push({ name: 'logit_bias', shape: [1], kind: 'scalar' });
  return specs;
}
