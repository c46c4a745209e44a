import { test } from 'node:test';
import assert from 'node:assert/strict';
import { convertTfjsGraph } from '../../src/encoders/npm/tfjs-to-onnx.js';
import { decodeWeights, type TfGraphArtifacts, type TfNode, type TfWeightSpec } from '../../src/encoders/npm/tfjs-artifacts.js';
import { createSession, f32 } from '../../src/onnx/session.js';
import { SailError } from '../../src/util/errors.js';
import { Rng } from '../../src/util/rng.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const ints = (...v: number[]) => ({ list: { i: v.map(String) } });

/**
 * A hand-written TF.js graph: Conv2D 3x3 VALID -> BiasAdd -> Relu -> MaxPool 3x3 VALID -> Squeeze
 * -> MatMul(+bias, fused) -> Softmax, with weights stored float32 except the conv filter, which is
 * uint8-quantised as the TF.js converter does it.
 */
function tinyGraph(rng: Rng) {
  const filter = Array.from({ length: 3 * 3 * 2 * 2 }, () => Math.floor(rng.next() * 256));
  const q = { dtype: 'uint8', min: -0.5, scale: 1 / 255 };
  const bias = [0.1, -0.2];
  const dense = Array.from({ length: 2 * 3 }, () => rng.next() - 0.5);
  const denseBias = [0.3, 0, -0.3];
  const specs: TfWeightSpec[] = [
    { name: 'w', shape: [3, 3, 2, 2], dtype: 'float32', quantization: q },
    { name: 'b', shape: [2], dtype: 'float32' },
    { name: 'd', shape: [2, 3], dtype: 'float32' },
    { name: 'db', shape: [3], dtype: 'float32' },
  ];
  const data = new Uint8Array([
    ...filter,
    ...new Uint8Array(Float32Array.from(bias).buffer),
    ...new Uint8Array(Float32Array.from(dense).buffer),
    ...new Uint8Array(Float32Array.from(denseBias).buffer),
  ]);
  const nodes: TfNode[] = [
    { name: 'x', op: 'Placeholder', attr: { shape: { shape: { dim: [{ size: '-1' }, { size: '5' }, { size: '5' }, { size: '2' }] } } } },
    { name: 'w', op: 'Const' }, { name: 'b', op: 'Const' }, { name: 'd', op: 'Const' }, { name: 'db', op: 'Const' },
    { name: 'conv', op: 'Conv2D', input: ['x', 'w'], attr: { strides: ints(1, 1, 1, 1), padding: { s: b64('VALID') }, data_format: { s: b64('NHWC') } } },
    { name: 'bias', op: 'BiasAdd', input: ['conv', 'b'] },
    { name: 'relu', op: 'Relu', input: ['bias'] },
    { name: 'pool', op: 'MaxPool', input: ['relu'], attr: { ksize: ints(1, 3, 3, 1), strides: ints(1, 1, 1, 1), padding: { s: b64('VALID') } } },
    { name: 'sq', op: 'Squeeze', input: ['pool'], attr: { squeeze_dims: ints(1, 2) } },
    { name: 'mm', op: '_FusedMatMul', input: ['sq', 'd', 'db'], attr: { fused_ops: { list: { s: [b64('BiasAdd')] } } } },
    { name: 'sm', op: 'Softmax', input: ['mm'] },
  ];
  const artifacts: TfGraphArtifacts = { source: 'tiny.json', nodes, modelTopology: { node: nodes }, weightSpecs: specs, weightData: data };
  const w = filter.map((v) => v * q.scale + q.min);
  return { artifacts, w, bias, dense, denseBias };
}

test('tfjs-to-onnx: conv/bias/relu/maxpool/squeeze/matmul/softmax match float64 math', async () => {
  const rng = new Rng(11);
  const { artifacts, w, bias, dense, denseBias } = tinyGraph(rng);
  const weights = decodeWeights(artifacts);
  assert.ok(Math.abs(weights.get('w')!.data[5] - w[5]) < 1e-7); // q * scale + min
  const res = convertTfjsGraph(artifacts, weights, { outputs: [{ node: 'sm', name: 'p' }, { node: 'sq', name: 'f' }], inputName: 'x' });
  assert.deepEqual(res.outputShapes, [[-1, 3], [-1, 2]]);
  assert.equal(res.flopsPerItem, 2 * (3 * 3 * 2 * 3 * 3 * 2) + 2 * 2 * 3);
  const n = 2;
  const x = Float32Array.from({ length: n * 5 * 5 * 2 }, () => rng.next() * 2 - 1);
  const s = await createSession(res.bytes, { threads: 1 });
  const out = await s.run({ x: f32(x, [n, 5, 5, 2]) });
  const p = out.p.data as Float32Array;
  const f = out.f.data as Float32Array;
  for (let b = 0; b < n; b++) {
    // conv VALID: 3x3 output, then relu, then max over the 3x3 map.
    const feat = [-Infinity, -Infinity];
    for (let oy = 0; oy < 3; oy++) for (let ox = 0; ox < 3; ox++) for (let o = 0; o < 2; o++) {
      let acc = bias[o];
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let c = 0; c < 2; c++) {
        acc += x[((b * 5 + oy + ky) * 5 + ox + kx) * 2 + c] * w[((ky * 3 + kx) * 2 + c) * 2 + o];
      }
      feat[o] = Math.max(feat[o], Math.max(0, acc));
    }
    const logits = [0, 1, 2].map((j) => denseBias[j] + feat[0] * dense[j] + feat[1] * dense[3 + j]);
    const mx = Math.max(...logits);
    const z = logits.reduce((a, l) => a + Math.exp(l - mx), 0);
    for (let o = 0; o < 2; o++) assert.ok(Math.abs(f[b * 2 + o] - feat[o]) < 1e-5);
    for (let j = 0; j < 3; j++) assert.ok(Math.abs(p[b * 3 + j] - Math.exp(logits[j] - mx) / z) < 1e-6);
  }
});

test('tfjs-to-onnx: unsupported ops and broken manifests are SailErrors naming the node or file', () => {
  const rng = new Rng(1);
  const { artifacts } = tinyGraph(rng);
  const bad = { ...artifacts, nodes: artifacts.nodes.map((n) => (n.name === 'relu' ? { ...n, op: 'Elu' } : n)) };
  assert.throws(() => convertTfjsGraph(bad, decodeWeights(bad), { outputs: [{ node: 'sm', name: 'p' }] }),
    (e: unknown) => e instanceof SailError && /tiny\.json.*'relu' \(Elu\)/.test(e.message));
  assert.throws(() => convertTfjsGraph(artifacts, decodeWeights(artifacts), { outputs: [{ node: 'nope', name: 'p' }] }), SailError);
  const short = { ...artifacts, weightSpecs: [{ name: 'w', shape: [3, 3, 2, 2], dtype: 'float32' }] };
  assert.throws(() => decodeWeights({ ...short, weightData: new Uint8Array(3) }), SailError);
});
