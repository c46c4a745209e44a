// One shared TF.js runtime on the WebAssembly backend (the fast TF.js backend that works in Node
// without native downloads; single-threaded there).
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { SailError } from '../../util/errors.js';

let ready: Promise<typeof tf> | null = null;

/** TF.js with the wasm backend active. Idempotent; later calls share the first initialisation. */
export function tfjsWasm(): Promise<typeof tf> {
  ready ??= (async () => {
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new SailError('TF.js wasm backend failed to initialise');
    await tf.ready();
    return tf;
  })().catch((err: unknown) => {
    ready = null; // let a later call try again
    throw err;
  });
  return ready;
}

