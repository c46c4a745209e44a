// Initialise onnxruntime's process-wide environment on a thread whose stack fits a long command line.
//
// Why: when onnxruntime-node creates its global environment (the first session of the process), the
// native library reads /proc/self/cmdline and walks it recursively, using about 280 bytes of stack per
// byte of command line (measured: 29 KB of arguments, e.g. `--classes` with 3000 names, overflowed the
// 8 MB main-thread stack: exit 139, no message). The environment is created once per process and shared
// by every thread, so creating it first in a worker thread with a stack sized from the command line
// makes every later session (main thread, workers, transformers.js) safe.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SailError } from '../util/errors.js';

/** Command lines up to this many bytes are handled by the normal main-thread start-up. */
export const LONG_COMMAND_LINE_BYTES = 4096;

let cmdlineBytes: number | undefined;

/** Bytes of the process command line as the native library sees it (argv joined with NULs). */
export function commandLineBytes(): number {
  if (cmdlineBytes === undefined) {
    try {
      cmdlineBytes = readFileSync('/proc/self/cmdline').length;
    } catch {
      // Not Linux: argv is what /proc/self/cmdline would hold.
      cmdlineBytes = process.argv.reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
    }
  }
  return cmdlineBytes;
}

/** Worker stack (MB) for a command line of `bytes`: 512 B per byte (about twice the measured use) plus 16 MB. */
export function initStackMb(bytes: number): number {
  return Math.min(4096, 16 + Math.ceil((bytes * 512) / 2 ** 20));
}

let initialised: Promise<void> | undefined;

/**
 * Make sure onnxruntime's global environment exists before this thread creates a session. A no-op for
 * ordinary command lines; for long ones the environment is created in a short-lived worker thread with a
 * large stack. Idempotent; call before the first `InferenceSession.create` of the process.
 */
export function ensureOrtEnvironment(bytes = commandLineBytes()): Promise<void> {
  if (bytes <= LONG_COMMAND_LINE_BYTES) return Promise.resolve();
  initialised ??= new Promise<void>((resolve, reject) => {
    const binding = createRequire(import.meta.url).resolve('onnxruntime-node/dist/binding.js');
    const code = `require(${JSON.stringify(binding)}).initOrt(); require('node:worker_threads').parentPort.postMessage('ready');`;
    const worker = new Worker(code, { eval: true, resourceLimits: { stackSizeMb: initStackMb(bytes) } });
    // The environment outlives the worker: it belongs to the process, not to the thread.
    worker.once('message', () => {
      resolve();
      void worker.terminate();
    });
    worker.once('error', (e) => reject(new SailError(`cannot initialise onnxruntime: ${e.message}`)));
    worker.once('exit', (code) => reject(new SailError(`cannot initialise onnxruntime (worker exit ${code})`)));
  });
  return initialised;
}
