import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GraphBuilder, float } from '../src/onnx/graph.js';
import { decodeModel, encodeModel } from '../src/onnx/model.js';
import { createSession, f32 } from '../src/onnx/session.js';

test('graph builder: Gemm + LayerNormalization run in onnxruntime and match hand math', async () => {
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', ['N', 3]);
  const w = g.initializer('w', Float32Array.from([1, 2, 3, 4, 5, 6]), [2, 3]);
  const b = g.constF([0.5, -1]);
  const y = g.op('Gemm', [x, w, b], { transB: 1, alpha: float(2) });
  g.output(y, 'y', 'float32', ['N', 2]);
  const bytes = g.toBytes();
  // decode -> encode is stable, and both forms run
  const again = encodeModel(decodeModel(bytes));
  assert.deepEqual(again, bytes);
  const s = await createSession(again, { threads: 1 });
  const out = await s.run({ x: f32(Float32Array.from([1, 0, -1, 2, 2, 2]), [2, 3]) });
  const v = Array.from(out.y.data as Float32Array);
  // row1: [1-3, 4-6]*2 + b = [-4+0.5, -4-1]; row2: [12, 30]*2 + b
  assert.deepEqual(v, [-3.5, -5, 24.5, 59]);
});
