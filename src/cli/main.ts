import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SailError } from '../util/errors.js';
import { ensureOrtEnvironment } from '../onnx/ort-init.js';
import { register as registerExport } from './export.js';
import { register as registerServe } from './serve.js';
import { register as registerSegment } from './segment.js';
import { register as registerTrain } from './train.js';
import { register as registerStore } from './store.js';
import { register as registerDemo } from './demo.js';
import { register as registerDownload } from './download.js';
import { register as registerData } from './data.js';
import { register as registerEncode } from './encode.js';
import { register as registerEval } from './eval.js';
import { register as registerProbe } from './probe.js';

/** A CLI command module registers itself on the root program. */
export type RegisterCommand = (program: Command) => void;

// One import + one entry per command file (src/cli/<name>.ts exports `register`).
const commands: RegisterCommand[] = [
  registerDemo,
  registerDownload,
  registerData,
  registerEncode,
  registerStore,
  registerTrain,
  registerProbe,
  registerEval,
  registerExport,
  registerServe,
  registerSegment,
];

function version(): string {
  // src/cli (tsx) and dist/src/cli (compiled) sit at different depths below package.json
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8'));
      if (pkg.name === 'sail-align') return String(pkg.version);
    } catch {
      // try the next level
    }
  }
  return '0.0.0';
}

/** Build the `sail` program (exported for tests). */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('sail')
    .description('Align frozen pretrained image and text encoders into a CLIP-like model (SAIL method).')
    .version(version())
    .showHelpAfterError();
  for (const register of commands) register(program);
  return program;
}

/** Entry point of the `sail` binary. User errors print one clear line; exit code 1. */
export async function main(argv: string[]): Promise<void> {
  try {
    // Before any command creates a session (ours or transformers.js's): long command lines need it.
    await ensureOrtEnvironment();
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof SailError) {
      console.error(`sail: ${err.message}`);
      process.exit(1);
    }
    throw err;
  }
}
