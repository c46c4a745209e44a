// Compute devices: the one `--device cpu|cuda|webgpu` choice mapped onto onnxruntime execution providers,
// a probe that says whether a device really works on this machine, and the install hints when not.
import { existsSync } from 'node:fs';
import { SailError } from '../util/errors.js';

export const DEVICES = ['cpu', 'cuda', 'webgpu'] as const;
/** Where onnxruntime runs the graphs. */
export type Device = (typeof DEVICES)[number];

/** Parse a device name (flag or library option); throws a SailError naming `flag`. */
export function parseDevice(value: string, flag = '--device'): Device {
  if (!(DEVICES as readonly string[]).includes(value)) throw new SailError(`${flag} must be one of ${DEVICES.join(', ')}, got ${JSON.stringify(value)}`);
  return value as Device;
}

let defaultDevice: Device = 'cpu';

/**
 * The device of every session that names neither a device nor execution providers: the CLI sets it from
 * `--device`, so every graph a command builds (training, encoders, evaluation, export checks) runs there.
 */
export function setDefaultDevice(device: Device): void {
  defaultDevice = parseDevice(device, 'device');
}

/** The device sessions use when none is named. */
export function getDefaultDevice(): Device {
  return defaultDevice;
}

/** Execution providers for a device: the device first, the CPU for any node it does not implement. */
export function executionProvidersFor(device: Device): string[] {
  return device === 'cpu' ? ['cpu'] : [device, 'cpu'];
}

/** What to do when a device's provider cannot be loaded here. */
export const INSTALL_HINTS: Record<Exclude<Device, 'cpu'>, string> = {
  cuda:
    "onnxruntime-node does not bundle its CUDA provider; its install script downloads it (needs network, an NVIDIA driver, CUDA 12 and cuDNN 9): " +
    'ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node (and remove onnxruntime-node-install=skip from .npmrc if set)',
  webgpu:
    "onnxruntime-node's bundled WebGPU provider (Dawn) needs a GPU with a Vulkan driver: install libvulkan1 and the GPU's driver " +
    '(NVIDIA driver, or mesa-vulkan-drivers for AMD/Intel); software Vulkan (lavapipe in Debian 12) lacks the features it needs',
};

/** Whether an error from session creation means the device's provider could not be loaded or found no adapter. */
export function isProviderLoadError(message: string): boolean {
  return /Failed to load shared library|No supported adapters|Failed to get a WebGPU adapter|not enabled in this build|Unsupported execution provider|backend not found|no available backend/i.test(message);
}

/** A SailError for a device that cannot run here: the reason onnxruntime gave, and the install hint. */
export function deviceError(device: Device, reason: string): SailError {
  const hint = device === 'cpu' ? '' : ` To use it: ${INSTALL_HINTS[device]}. Run \`sail doctor\` to see what works on this machine.`;
  return new SailError(`--device ${device} is not usable here (${reason.split('\n')[0].trim()}).${hint}`);
}

/** Hardware hints that do not need onnxruntime: an NVIDIA driver, a Vulkan loader. */
export function hardwareHints(): { nvidiaDriver: boolean; vulkanLoader: boolean } {
  const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
  return {
    nvidiaDriver: existsSync('/proc/driver/nvidia/version') || existsSync('/dev/nvidia0'),
    vulkanLoader: libDirs.some((d) => existsSync(`${d}/libvulkan.so.1`)),
  };
}
