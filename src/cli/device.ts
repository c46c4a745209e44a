// The one `--device` flag value shared by train, encode, eval and export (no onnxruntime import here:
// commands load it only when they run graphs).
import { parseDevice, setDefaultDevice, type Device } from '../onnx/device.js';

/** Check the flag and make it the device of every session this command creates. */
export function useDevice(value: string | undefined): Device {
  const device = parseDevice(value ?? 'cpu');
  setDefaultDevice(device);
  return device;
}
