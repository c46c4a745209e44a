// Worker thread of the MobileNetV2 encoder pool: decodes its own batches and runs its own
// single-threaded onnxruntime session, so decoding and inference of different batches overlap.
import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { decodeBatch, type ResizeMode } from './image-preprocess.js';
import type { ImageInput } from '../types.js';

interface Init {
  modelPath: string;
  mode: ResizeMode;
  batchSize: number;
  size: number;
  executionProviders: string[];
}

interface Job {
  id: number;
  images: ImageInput[];
  firstIndex: number;
  output: 'features' | 'grid';
}

const init = workerData as Init;
const port = parentPort!;
const per = init.size * init.size * 3;
const buffer = new Float32Array(init.batchSize * per);

const session = await ort.InferenceSession.create(init.modelPath, {
  executionProviders: init.executionProviders,
  graphOptimizationLevel: 'all',
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
});

// One job at a time per worker (the pool never sends a second before the first is answered).
port.on('message', async (job: Job | 'close') => {
  if (job === 'close') {
    await session.release();
    port.close();
    return;
  }
  try {
    const n = job.images.length;
    const pixels = await decodeBatch(job.images, init.size, init.mode, job.firstIndex, buffer);
    const out = await session.run({ image: new ort.Tensor('float32', pixels.subarray(0, n * per), [n, init.size, init.size, 3]) }, [job.output]);
    const data = (out[job.output].data as Float32Array).slice();
    port.postMessage({ id: job.id, data }, [data.buffer]);
  } catch (err) {
    port.postMessage({ id: job.id, error: (err as Error).message });
  }
});
port.postMessage({ ready: true });
