import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { SailError, writeFailure } from '../util/errors.js';
import { ensureOrtEnvironment } from '../onnx/ort-init.js';
import { checkOutPaths } from './out-path.js';
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
import { register as registerDoctor } from './doctor.js';

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
  registerDoctor,
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
    .showHelpAfterError()
    // every command's --out is checked before any work starts
    .hook('preAction', (_program, command) => checkOutPaths(command));
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
    // a full disk or similar outside the writers that name their file: still one line
    const failure = err instanceof SailError ? err : writeFailure(err, (err as NodeJS.ErrnoException | undefined)?.path ?? 'output');
    if (failure instanceof SailError) {
      console.error(`sail: ${failure.message}`);
      process.exit(1);
    }
    throw err;
  }
}
