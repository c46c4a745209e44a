// A pool of worker threads, each with a one-thread MobileNetV2 session. On 2 cores two such workers
// beat one two-thread session: a single-threaded convolution wastes less, and while one worker
// decodes (sharp + JS resampling) the other runs the network.
import { Worker } from 'node:worker_threads';
import { SailError } from '../../util/errors.js';
import type { ImageInput } from '../types.js';
import type { ResizeMode } from './image-preprocess.js';

interface Pending {
  resolve: (data: Float32Array) => void;
  reject: (err: Error) => void;
}

class PoolWorker {
  private readonly worker: Worker;
  private pending: Pending | null = null;
  private nextId = 0;
  readonly ready: Promise<void>;

  constructor(init: { modelPath: string; mode: ResizeMode; batchSize: number; size: number; executionProviders: string[] }) {
    // Compiled (.js) and source (.ts, run through tsx: workers inherit the parent's --import) layouts.
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const entry = new URL(`./mobilenet-worker${ext}`, import.meta.url);
    // From sources (tests run through tsx), Node 20 loads a worker's entry before --import hooks are
    // active, so a fixed bootstrap registers tsx first and then imports the TypeScript entry. tsx is
    // resolved here (from the package), not by the worker (from its cwd, which may be any folder).
    this.worker =
      ext === '.ts'
        ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((m) => { m.register(); return import(${JSON.stringify(entry.href)}); });`, { eval: true, workerData: init })
        : new Worker(entry, { workerData: init });
    // Referenced only while starting or busy: an idle pool never keeps the process alive.
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (m: { ready?: boolean }) => {
        if (m.ready) {
          this.worker.off('error', reject);
          this.worker.unref();
          resolve();
        }
      };
      this.worker.once('message', onMessage);
      this.worker.once('error', reject);
    });
    this.worker.on('message', (m: { id?: number; data?: Float32Array; error?: string }) => {
      if (m.id === undefined || !this.pending) return;
      const p = this.pending;
      this.pending = null;
      this.worker.unref();
      if (m.error !== undefined) p.reject(new SailError(m.error));
      else p.resolve(m.data!);
    });
    this.worker.on('error', (err) => {
      this.pending?.reject(err);
      this.pending = null;
    });
  }

  run(images: ImageInput[], firstIndex: number, output: 'features' | 'grid'): Promise<Float32Array> {
    if (this.pending) throw new Error('MobileNet pool worker is busy');
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.worker.ref();
      this.worker.postMessage({ id: this.nextId++, images, firstIndex, output });
    });
  }

  async close(): Promise<void> {
    this.worker.ref();
    this.worker.postMessage('close');
    await new Promise<void>((resolve) => {
      this.worker.once('exit', () => resolve());
      setTimeout(() => {
        void this.worker.terminate().then(() => resolve());
      }, 2000).unref();
    });
  }
}

/** Batches spread over worker threads; results come back in input order. */
export interface MobileNetPool {
  encode(images: ImageInput[], output: 'features' | 'grid', width: number): Promise<Float32Array>;
  close(): Promise<void>;
}

export async function createMobileNetPool(opts: {
  workers: number;
  modelPath: string;
  mode: ResizeMode;
  batchSize: number;
  size: number;
  executionProviders: string[];
}): Promise<MobileNetPool> {
  const { workers: count, ...init } = opts;
  const workers = Array.from({ length: count }, () => new PoolWorker(init));
  await Promise.all(workers.map((w) => w.ready));
  return {
    async encode(images, output, width) {
      const result = new Float32Array(images.length * width);
      let next = 0;
      let failed = false;
      // allSettled: a worker still busy when another fails must finish before the next call.
      const settled = await Promise.allSettled(
        workers.map(async (w) => {
          while (!failed && next < images.length) {
            const start = next;
            next += init.batchSize;
            try {
              result.set(await w.run(images.slice(start, start + init.batchSize), start, output), start * width);
            } catch (err) {
              failed = true;
              throw err;
            }
          }
        }),
      );
      const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
      return result;
    },
    async close() {
      await Promise.all(workers.map((w) => w.close()));
    },
  };
}
