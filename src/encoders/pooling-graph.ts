// The poolings of pooling.ts as ONNX nodes, for graphs that fuse a backbone with a head (export). Each
// case computes what the JS form computes; test/model/fused-parity.test.ts compares them on real inputs.
import type { GraphBuilder } from '../onnx/graph.js';
import { appendReduce } from '../head/graph.js';
import type { Pooling } from './pooling.js';

/** Token 0 of [N, T, H] -> [N, H]. */
function clsToken(g: GraphBuilder, t: string): string {
  return g.op('Gather', [t, g.initializer(g.fresh('idx0'), BigInt64Array.from([0n]), [])], { axis: 1 });
}

/** Tokens 1.. of [N, T, H]. */
function patchSlice(g: GraphBuilder, t: string): string {
  return g.op('Slice', [t, g.constI64([1]), g.constI64([2 ** 53 - 1]), g.constI64([1])]);
}

function unsqueezeLast(g: GraphBuilder, x: string, opset: number): string {
  return opset >= 13 ? g.op('Unsqueeze', [x, g.constI64([-1])]) : g.op('Unsqueeze', [x], { axes: [-1] });
}

/**
 * Append pooling of backbone states `feats` ([N, T, H], or [N, H] for 'none'). `mask` names an int64
 * attention mask [N, T] input: 'mean' then averages attended tokens only (count clamped at 1e-9, as
 * sentence-transformers and poolTextTokens) and 'last' takes the last attended token.
 */
export function appendPooling(g: GraphBuilder, feats: string, pooling: Pooling, opset: number, mask?: string): string {
  switch (pooling) {
    case 'none':
      return feats;
    case 'cls':
      return clsToken(g, feats);
    case 'patch':
      return appendReduce(g, 'ReduceMean', patchSlice(g, feats), [1], opset, 0);
    case 'concat':
      return g.op('Concat', [clsToken(g, feats), appendReduce(g, 'ReduceMean', patchSlice(g, feats), [1], opset, 0)], { axis: -1 });
    case 'mean': {
      if (!mask) return appendReduce(g, 'ReduceMean', feats, [1], opset, 0);
      const m = g.op('Cast', [mask], { to: 1 });
      const sum = appendReduce(g, 'ReduceSum', g.op('Mul', [feats, unsqueezeLast(g, m, opset)]), [1], opset, 0);
      const count = g.op('Max', [appendReduce(g, 'ReduceSum', m, [1], opset, 1), g.constF(1e-9)]);
      return g.op('Div', [sum, count]);
    }
    case 'last': {
      const scalar = (v: number) => g.constI64([v], []);
      const t = g.op('Gather', [g.op('Shape', [feats]), scalar(1)], { axis: 0 });
      const positions = g.op('Range', [scalar(0), t, scalar(1)]); // [T]
      let last: string;
      if (mask) {
        // last attended position: max over mask * (position + 1), minus 1; an all-pad row gives -1 -> T - 1
        const scored = g.op('Mul', [mask, g.op('Add', [positions, scalar(1)])]);
        const max = opset >= 18 ? g.op('ReduceMax', [scored, g.constI64([1])], { keepdims: 1 }) : g.op('ReduceMax', [scored], { axes: [1], keepdims: 1 });
        last = g.op('Mod', [g.op('Add', [g.op('Sub', [max, scalar(1)]), t]), t]); // [N, 1]
      } else last = g.op('Sub', [t, scalar(1)]);
      const onehot = g.op('Cast', [g.op('Equal', [positions, last])], { to: 1 }); // [N, T] (or [T])
      return appendReduce(g, 'ReduceSum', g.op('Mul', [feats, unsqueezeLast(g, onehot, opset)]), [1], opset, 0);
    }
  }
}

/** Per-patch tokens `[CLS ; patch_i]` of [N, T, H] -> [N, T-1, 2H] (the CLS copied onto each patch). */
export function appendPatchTokens(g: GraphBuilder, feats: string, opset: number): string {
  const patches = patchSlice(g, feats);
  const cls = clsToken(g, feats);
  const c = opset >= 13 ? g.op('Unsqueeze', [cls, g.constI64([1])]) : g.op('Unsqueeze', [cls], { axes: [1] });
  return g.op('Concat', [g.op('Expand', [c, g.op('Shape', [patches])]), patches], { axis: -1 });
}
