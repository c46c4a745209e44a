// What this machine offers onnxruntime: providers compiled into onnxruntime-node, whether each device
// really runs a graph here (probed with a tiny session), threads, and the environment that matters.
import os from 'node:os';
import { DEVICES, hardwareHints, INSTALL_HINTS, type Device } from './device.js';
import { GraphBuilder } from './graph.js';
import { createSession, f32, ort } from './session.js';

/** Environment variables that change how onnxruntime or the machine's GPU stack behaves. */
export const DEVICE_ENV = [
  'OMP_NUM_THREADS', 'ORT_LOGGING_LEVEL', 'CUDA_VISIBLE_DEVICES', 'NVIDIA_VISIBLE_DEVICES', 'LD_LIBRARY_PATH', 'VK_ICD_FILENAMES',
  'VK_DRIVER_FILES', 'ONNXRUNTIME_NODE_INSTALL', 'ONNXRUNTIME_NODE_INSTALL_CUDA', 'OPENBLAS_CORETYPE', 'GLIBC_TUNABLES',
];

/** Result of running a tiny graph on one device. */
export interface DeviceProbe {
  device: Device;
  usable: boolean;
  /** Why not (the first line of onnxruntime's error). */
  reason?: string;
  /** What to install (devices other than cpu). */
  hint?: string;
}

/** Everything `sail doctor` prints. */
export interface DoctorReport {
  node: string;
  onnxruntime: string;
  platform: string;
  cpus: number;
  cpuModel: string;
  /** Providers onnxruntime-node knows, and whether their libraries ship in the package. */
  providers: { name: string; bundled: boolean }[];
  devices: DeviceProbe[];
  hardware: ReturnType<typeof hardwareHints>;
  /** onnxruntime's intra-op threads when --threads is not given (one per core it sees). */
  defaultThreads: number;
  env: Record<string, string | undefined>;
}

/** Run y = x + x on `device` alone (no CPU fallback), so a provider that cannot load shows up. */
export async function probeDevice(device: Device): Promise<DeviceProbe> {
  const g = new GraphBuilder('probe');
  const x = g.input('x', 'float32', [2]);
  g.output(g.op('Add', [x, x]), 'y', 'float32', [2]);
  try {
    const s = await createSession(g.toBytes(), { executionProviders: [device], threads: 1 });
    try {
      const y = (await s.run({ x: f32(Float32Array.of(1, 2), [2]) })).y.data as Float32Array;
      if (y[0] !== 2 || y[1] !== 4) return { device, usable: false, reason: `wrong result ${y[0]}, ${y[1]}` };
    } finally {
      await s.release();
    }
    return { device, usable: true };
  } catch (e) {
    const reason = ((e as Error).message ?? String(e)).replace(/^--device \w+ is not usable here \((.*?)\)\..*$/s, '$1').split('\n')[0].trim();
    return { device, usable: false, reason, ...(device !== 'cpu' ? { hint: INSTALL_HINTS[device] } : {}) };
  }
}

/** Collect the report (probes every device; takes a second or two). */
export async function doctorReport(): Promise<DoctorReport> {
  // the probes' failures are reported here; onnxruntime's own error log would repeat them (takes effect
  // only if no session was created before in this process)
  ort.env.logLevel = 'fatal';
  const devices: DeviceProbe[] = [];
  for (const d of DEVICES) devices.push(await probeDevice(d));
  const list = (ort as unknown as { listSupportedBackends?: () => { name: string; bundled: boolean }[] }).listSupportedBackends;
  return {
    node: process.version,
    onnxruntime: ort.env.versions.node ?? ort.env.versions.common ?? 'unknown',
    platform: `${process.platform}-${process.arch}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    providers: list ? list() : [],
    devices,
    hardware: hardwareHints(),
    defaultThreads: os.availableParallelism(),
    env: Object.fromEntries(DEVICE_ENV.map((k) => [k, process.env[k]])),
  };
}
