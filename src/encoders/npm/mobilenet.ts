// Image encoder 'mobilenetv2-nsfwjs': MobileNetV2-1.4 (TF-Hub feature vector, shipped in nsfwjs),
// converted to ONNX and run on onnxruntime-node; 1792-d pooled features.
import { f32, ort } from '../../onnx/session.js';
import { ensureOrtEnvironment } from '../../onnx/ort-init.js';
import { SailError } from '../../util/errors.js';
import type { ImageEncoder, ImageInput } from '../types.js';
import { decodeBatch, type ResizeMode } from './image-preprocess.js';
import { MOBILENET_DIM, MOBILENET_ID, MOBILENET_SIZE } from './ids.js';
import { mobilenetPreprocess } from '../image-spec.js';
import { MOBILENET_GRID, ensureMobileNetOnnx } from './mobilenet-onnx.js';
import { createMobileNetPool, type MobileNetPool } from './mobilenet-pool.js';

/** Options of {@link loadMobileNetV2Nsfwjs}. */
export interface MobileNetOptions {
  /** onnxruntime intra-op threads (default: onnxruntime's choice, all cores). */
  threads?: number;
  /** Execution providers in order of preference (default ['cpu']). */
  executionProviders?: string[];
  /**
   * Images per inference call (default 8: batches of 1 to 16 cost about the same CPU per image on
   * 2 cores, and 8 keeps the two reused decode buffers at 4.8 MB).
   */
  batchSize?: number;
  /**
   * Let onnxruntime's worker threads spin between ops (default false). Spinning lowers per-op latency
   * but burns the cores that the overlapped image decoding needs.
   */
  spinning?: boolean;
  /** Square-ing of non-square images (default 'crop': shortest edge + centre crop). */
  resize?: ResizeMode;
  /**
   * Worker threads, each with its own one-thread session and its own decoding (default 1: everything
   * in this thread). On a 2-core machine 2 workers are fastest (see bench/backbones.ts).
   */
  workers?: number;
  /** Folder for the converted model (default `$SAIL_CACHE/models`, else `~/.cache/sail/models`). */
  cacheDir?: string;
}

export { MOBILENET_ID } from './ids.js';

/** The loaded encoder, with facts the benchmark and CLI report. */
export interface MobileNetEncoder extends ImageEncoder {
  readonly flopsPerImage: number;
  readonly modelPath: string;
  /** Run the network on already-preprocessed NHWC [n,224,224,3] floats in [0,1]. */
  encodeTensor(pixels: Float32Array, n: number): Promise<Float32Array>;
}

/**
 * Load the MobileNetV2 image encoder (converting and caching the ONNX model on first use).
 * Preprocessing: decode with sharp, composite transparency on white, square to 224x224
 * (see {@link ResizeMode}), RGB scaled to [0, 1]; the graph itself maps to [-1, 1] as in TF-Hub.
 * `encode` decodes batch k+1 (libuv threads) while batch k runs in onnxruntime. `encodePatches`
 * returns the 7x7 grid of 1792-d features (row-major patches) whose mean is the `encode` vector.
 */
export async function loadMobileNetV2Nsfwjs(opts: MobileNetOptions = {}): Promise<MobileNetEncoder> {
  const model = await ensureMobileNetOnnx({ cacheDir: opts.cacheDir });
  // Same settings as src/onnx/session.ts createSession, plus the spinning switch it does not expose.
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: opts.executionProviders ?? ['cpu'],
    graphOptimizationLevel: 'all',
    interOpNumThreads: 1,
    executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: opts.spinning ? '1' : '0' } } },
  };
  if (opts.threads && opts.threads > 0) options.intraOpNumThreads = opts.threads;
  await ensureOrtEnvironment();
  let session: ort.InferenceSession | null = await ort.InferenceSession.create(model.path, options);
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 8));
  const mode: ResizeMode = opts.resize ?? 'crop';
  const per = MOBILENET_SIZE * MOBILENET_SIZE * 3;

  /** One inference; fetches only the output asked for (the other is not copied out). */
  const infer = async (pixels: Float32Array, n: number, output: 'features' | 'grid'): Promise<Float32Array> => {
    if (!session) throw new SailError(`${MOBILENET_ID}: encoder was disposed`);
    if (pixels.length !== n * per) throw new SailError(`${MOBILENET_ID}: expected ${n * per} input floats, got ${pixels.length}`);
    const out = await session.run({ image: f32(pixels, [n, MOBILENET_SIZE, MOBILENET_SIZE, 3]) }, [output]);
    const t = out[output];
    const width = output === 'features' ? MOBILENET_DIM : MOBILENET_GRID * MOBILENET_GRID * MOBILENET_DIM;
    // The output tensor owns native memory until disposed; copy what we keep first.
    const copy = (t.data as Float32Array).slice(0, n * width);
    t.dispose?.();
    return copy;
  };
  const run = (pixels: Float32Array, n: number) => infer(pixels, n, 'features');

  // Two decode buffers, allocated once: batch k+1 is decoded into one while batch k is inferred
  // from the other (fresh allocations per batch cost more in page faults than the decode itself).
  const buffers = [new Float32Array(batchSize * per), new Float32Array(batchSize * per)];
  let queue: Promise<unknown> = Promise.resolve();

  const encodeAll = async (images: ImageInput[], output: 'features' | 'grid'): Promise<Float32Array> => {
    const width = output === 'features' ? MOBILENET_DIM : MOBILENET_GRID * MOBILENET_GRID * MOBILENET_DIM;
    const result = new Float32Array(images.length * width);
    const starts: number[] = [];
    for (let i = 0; i < images.length; i += batchSize) starts.push(i);
    const decode = (k: number) => {
      const p = decodeBatch(images.slice(starts[k], starts[k] + batchSize), MOBILENET_SIZE, mode, starts[k], buffers[k % 2]);
      p.catch(() => undefined); // awaited below; keeps an early inference failure from leaving it unhandled
      return p;
    };
    let next = starts.length ? decode(0) : null;
    try {
      for (let k = 0; k < starts.length; k++) {
        const pixels = await next!;
        next = k + 1 < starts.length ? decode(k + 1) : null;
        const n = Math.min(batchSize, images.length - starts[k]);
        result.set(await infer(pixels.subarray(0, n * per), n, output), starts[k] * width);
      }
    } catch (err) {
      // Let a decode still writing into a shared buffer finish before the next call may reuse it.
      await next?.catch(() => undefined);
      throw err;
    }
    return result;
  };
  const workers = Math.max(1, Math.floor(opts.workers ?? 1));
  let pool: MobileNetPool | null =
    workers > 1
      ? await createMobileNetPool({ workers, modelPath: model.path, mode, batchSize, size: MOBILENET_SIZE, executionProviders: opts.executionProviders ?? ['cpu'] })
      : null;
  const widthOf = (output: 'features' | 'grid') => (output === 'features' ? MOBILENET_DIM : MOBILENET_GRID * MOBILENET_GRID * MOBILENET_DIM);
  // Calls share the decode buffers (or the pool's workers), so they run one after another.
  const serial = (images: ImageInput[], output: 'features' | 'grid'): Promise<Float32Array> => {
    const job = queue.then(() => (pool ? pool.encode(images, output, widthOf(output)) : encodeAll(images, output)));
    queue = job.catch(() => undefined);
    return job;
  };

  return {
    id: MOBILENET_ID,
    dim: MOBILENET_DIM,
    // decodeBatch is this spec's square mode (src/encoders/preprocess.ts preprocessBatch gives the same tensor)
    preprocess: mobilenetPreprocess(mode),
    flopsPerImage: model.flopsPerImage,
    modelPath: model.path,
    encodeTensor: run,
    encode(images: ImageInput[]): Promise<Float32Array> {
      return serial(images, 'features');
    },
    async encodePatches(images: ImageInput[]) {
      const data = await serial(images, 'grid');
      return { data, patches: MOBILENET_GRID * MOBILENET_GRID, grid: [MOBILENET_GRID, MOBILENET_GRID] as [number, number], dim: MOBILENET_DIM };
    },
    async dispose(): Promise<void> {
      const s = session;
      session = null;
      const p = pool;
      pool = null;
      await Promise.all([s?.release(), p?.close()]);
    },
  };
}
