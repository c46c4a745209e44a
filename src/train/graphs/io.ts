// Moving tensors in and out of onnxruntime sessions without needless copies.
import { ort, providersOf } from '../../onnx/session.js';

/** Float32 tensor over an existing buffer (no copy). */
export const tensor = (data: Float32Array, dims: number[]): ort.Tensor => new ort.Tensor('float32', data, dims);

/**
 * Read output `name` of a run whose fetches pre-allocated `into`. On the CPU provider onnxruntime-node
 * writes the result into the pre-allocated buffer and hands back a second copy, so `into` already holds
 * the data; with other providers the returned data is copied into `into` to be safe.
 */
export function take(out: ort.InferenceSession.ReturnType, name: string, into: Float32Array, filledInPlace: boolean): Float32Array {
  const d = out[name].data as Float32Array;
  if (!filledInPlace && d !== into) into.set(d);
  return into;
}

/** Whether every execution provider in the list (default: those of the default device) is the CPU one. */
export const cpuOnly = (eps: string[] | undefined): boolean => providersOf({ executionProviders: eps }).every((e) => e === 'cpu');
