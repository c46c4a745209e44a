// `sail doctor`: what onnxruntime can use on this machine (providers, devices, threads, environment).
import type { Command } from 'commander';
import { parseDevice } from '../onnx/device.js';
import { SailError } from '../util/errors.js';

interface DoctorFlags {
  device?: string;
  json?: boolean;
}

/** Register `sail doctor`. */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('show the onnxruntime execution providers, which devices (cpu, cuda, webgpu) work here, threads and relevant environment')
    .option('--device <cpu|cuda|webgpu>', 'exit with an error (and the install hint) unless this device works')
    .option('--json', 'print the report as JSON')
    .action(async (flags: DoctorFlags) => {
      const wanted = flags.device !== undefined ? parseDevice(flags.device) : undefined;
      const { doctorReport } = await import('../onnx/doctor.js');
      const r = await doctorReport();
      if (flags.json) console.log(JSON.stringify(r, null, 2));
      else {
        console.log(`node ${r.node}, onnxruntime-node ${r.onnxruntime}, ${r.platform}, ${r.cpus} cpus (${r.cpuModel})`);
        console.log(`execution providers in onnxruntime-node: ${r.providers.map((p) => `${p.name}${p.bundled ? '' : ' (not bundled: downloaded by its install script)'}`).join(', ') || 'unknown'}`);
        console.log(`hardware: NVIDIA driver ${r.hardware.nvidiaDriver ? 'found' : 'not found'}, Vulkan loader (libvulkan.so.1) ${r.hardware.vulkanLoader ? 'found' : 'not found'}`);
        for (const d of r.devices) {
          console.log(`  --device ${d.device.padEnd(6)} ${d.usable ? 'usable' : `NOT usable: ${d.reason}`}`);
          if (!d.usable && d.hint) console.log(`      fix: ${d.hint}`);
        }
        console.log(`threads: onnxruntime uses ${r.defaultThreads} intra-op threads unless --threads is given`);
        console.log(`environment: ${Object.entries(r.env).map(([k, v]) => `${k}=${v ?? '(unset)'}`).join(' ')}`);
      }
      if (wanted) {
        const d = r.devices.find((x) => x.device === wanted)!;
        if (!d.usable) throw new SailError(`--device ${wanted} is not usable here (${d.reason})${d.hint ? `. To use it: ${d.hint}` : ''}`);
      }
    });
}
