// Test-only: run the original TF.js graph models with TF.js itself, as the reference the ONNX
// conversion is checked against. TF.js does its own dequantisation and its own kernels.
import { loadNsfwjsMobileNet } from '../../src/encoders/npm/tfjs-artifacts.js';
import { FEATURE_NODE_SUFFIX } from '../../src/encoders/npm/mobilenet-onnx.js';
import { tfjsWasm } from '../../src/encoders/npm/tfjs-wasm.js';

/** MobileNetV2 features [n,1792] from TF.js (wasm backend) for NHWC [n,224,224,3] pixels in [0,1]. */
export async function tfjsMobileNetFeatures(pixels: Float32Array, n: number): Promise<Float32Array> {
  const tf = await tfjsWasm();
  const { artifacts } = loadNsfwjsMobileNet();
  const wd = artifacts.weightData;
  const model = await tf.loadGraphModel({
    load: async () => ({
      modelTopology: artifacts.modelTopology as object,
      weightSpecs: artifacts.weightSpecs as never,
      weightData: wd.buffer.slice(wd.byteOffset, wd.byteOffset + wd.byteLength) as ArrayBuffer,
    }),
  });
  const feature = artifacts.nodes.find((x) => x.name.endsWith(FEATURE_NODE_SUFFIX))!.name;
  const input = tf.tensor4d(pixels, [n, 224, 224, 3]);
  try {
    const out = model.execute(input, feature) as import('@tensorflow/tfjs').Tensor;
    const data = (await out.data()) as Float32Array;
    out.dispose();
    return data;
  } finally {
    input.dispose();
    model.dispose();
  }
}
