// `sail demo`: the embedded offline demo (emoji images + CLDR captions from npm packages). Thin: parses
// flags, shows progress bars, prints the results table or JSON; the work is in src/demo/run.ts.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { SailError } from '../util/errors.js';
import { runDemo, type DemoOptions, type DemoProgress } from '../demo/run.js';
import { numberArg } from './flags.js';

const positiveInt = (name: string) => numberArg(name, { int: true, positive: true });
const positiveNumber = (name: string) => numberArg(name, { positive: true });

/** Commander's parsed flags: the library options plus the CLI-only ones. */
type DemoFlags = Omit<DemoOptions, 'onProgress' | 'out'> & { out: string; backbones?: string; json?: boolean };

/** Register `sail demo`. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('Run the whole pipeline offline on emoji shipped in npm packages: encode, train a star head, evaluate zero-shot on held-out Twemoji')
    .option('--out <dir>', 'output folder (stores, checkpoints, results, plot)', 'sail-out/demo')
    .option('--steps <n>', 'training steps per head', positiveInt('steps'))
    .option('--threads <n>', 'compute threads', positiveInt('threads'))
    .option('--limit <n>', 'use only N emoji concepts (quick runs, tests)', positiveInt('limit'))
    .option('--seed <n>', 'seed of the split, init and shuffling', numberArg('seed', { int: true, min: 0, max: 0xffffffff }))
    .option('--batch-size <n>', 'training batch size', positiveInt('batch-size'))
    .option('--lr <x>', 'Lion learning rate', positiveNumber('lr'))
    .option('--width-factor <n>', 'star head hidden width factor', positiveInt('width-factor'))
    .option('--target-dim <n>', 'shared embedding width', positiveInt('target-dim'))
    .option('--backbones <image,text>', 'image and text backbones, e.g. dinov2-small,gte-base')
    .option('--image-backbone <name|dir>', 'image backbone registry name or local model folder')
    .option('--text-backbone <name|dir>', 'text backbone registry name or local model folder')
    .option('--allow-download', 'let hub backbones (dinov2-*, gte-*) download missing model files')
    .option('--json', 'print the results as JSON')
    .action(async (flags: DemoFlags) => {
      let imageBackbone = flags.imageBackbone;
      let textBackbone = flags.textBackbone;
      if (flags.backbones) {
        const parts = flags.backbones.split(',').map((s) => s.trim());
        if (parts.length !== 2 || !parts[0] || !parts[1]) throw new SailError(`--backbones must be "image,text", got ${JSON.stringify(flags.backbones)}`);
        imageBackbone ??= parts[0];
        textBackbone ??= parts[1];
      }
      const bars = new cliProgress.MultiBar(
        { format: '{stage} [{bar}] {value}/{total} {detail}', hideCursor: true, clearOnComplete: false },
        cliProgress.Presets.shades_classic,
      );
      const active = new Map<string, cliProgress.SingleBar>();
      const onProgress = (p: DemoProgress): void => {
        let bar = active.get(p.stage);
        if (!bar) {
          bar = bars.create(p.total, 0, { stage: p.stage.padEnd(14), detail: '' });
          active.set(p.stage, bar);
        }
        bar.setTotal(p.total);
        bar.update(p.done, { stage: p.stage.padEnd(14), detail: p.detail ?? '' });
      };
      let result;
      try {
        result = await runDemo({
          out: flags.out,
          steps: flags.steps,
          threads: flags.threads,
          limit: flags.limit,
          seed: flags.seed,
          batchSize: flags.batchSize,
          lr: flags.lr,
          widthFactor: flags.widthFactor,
          targetDim: flags.targetDim,
          imageBackbone,
          textBackbone,
          allowDownload: flags.allowDownload,
          onProgress,
        });
      } finally {
        bars.stop();
      }
      if (flags.json) {
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      const d = result.dataset;
      console.log(`\nHeld-out zero-shot test: ${d.test} Twemoji concepts never seen in training (trained on ${d.train} Noto emoji).`);
      console.log('Values in %; T2I/I2T = text->image / image->text recall@K; cat/sub = zero-shot category / sub-category top-K.\n');
      console.log(result.table);
      console.log(`\ntime: encode ${result.timings.encodeS.toFixed(1)} s, train ${result.timings.trainS.toFixed(1)} s, eval ${result.timings.evalS.toFixed(1)} s, total ${result.timings.totalS.toFixed(1)} s`);
      console.log('\nartifacts:');
      for (const [k, v] of Object.entries(result.artifacts)) console.log(`  ${k.padEnd(16)} ${v}`);
    });
}
