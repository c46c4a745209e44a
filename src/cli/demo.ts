// `sail demo`: the embedded offline demo (emoji images + CLDR captions from npm packages). Thin: parses
// flags, shows progress bars, prints the results table or JSON; the work is in src/demo/run.ts.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { SailError } from '../util/errors.js';
import { runDemo, type DemoOptions, type DemoProgress } from '../demo/run.js';
import { TRAIN_STYLES, type TrainStyle } from '../demo/styles.js';
import type { RidgeTarget } from '../demo/options.js';
import { numberArg, oneOf, parseNumber } from './flags.js';

const positiveInt = (name: string) => numberArg(name, { int: true, positive: true });
const positiveNumber = (name: string) => numberArg(name, { positive: true });
const nonNegative = (name: string) => numberArg(name, { min: 0 });
const list = (v: string): string[] => v.split(',').map((x) => x.trim()).filter((x) => x.length > 0);
const positiveList = (name: string) => (v: string): number[] => list(v).map((x) => parseNumber(x, name, { positive: true }));
const styleList = (v: string): TrainStyle[] => list(v).map((x) => oneOf(x, TRAIN_STYLES, 'styles'));
const ridgeTargetList = (v: string): RidgeTarget[] => list(v).map((x) => oneOf(x, ['text', 'text+extra'] as const, 'ridge-target'));

/** Commander's parsed flags: the library options plus the CLI-only ones. */
type DemoFlags = Omit<DemoOptions, 'onProgress' | 'out'> & { out: string; backbones?: string; json?: boolean };

/** Register `sail demo`. */
export function register(program: Command): void {
  program
    .command('demo')
    .description('Run the whole pipeline offline on emoji shipped in npm packages: encode, train a star head, evaluate zero-shot on held-out Twemoji')
    .option('--out <dir>', 'output folder (stores, checkpoints, results, plot)', 'sail-out/demo')
    .option('--steps <n>', 'star head: training steps', positiveInt('steps'))
    .option('--threads <n>', 'compute threads', positiveInt('threads'))
    .option('--limit <n>', 'use only N emoji concepts (quick runs, tests)', positiveInt('limit'))
    .option('--seed <n>', 'first training seed (init and shuffling)', numberArg('seed', { int: true, min: 0, max: 0xffffffff }))
    .option('--seeds <n>', 'number of training seeds (seed, seed+1, ...); rows show mean ± sd', positiveInt('seeds'))
    .option('--split-seed <n>', 'seed of the concept split (fixed across training seeds)', numberArg('split-seed', { int: true, min: 0, max: 0xffffffff }))
    .option('--validation <n>', 'tuning mode: hold out N training concepts instead of the test set', positiveInt('validation'))
    .option('--styles <list>', `training drawing styles (${TRAIN_STYLES.join(',')})`, styleList)
    .option('--batch-size <n>', 'star head: training batch size', positiveInt('batch-size'))
    .option('--lr <x>', 'star head: Lion learning rate', positiveNumber('lr'))
    .option('--weight-decay <x>', 'star head: weight decay', nonNegative('weight-decay'))
    .option('--width-factor <n>', 'star head hidden width factor', positiveInt('width-factor'))
    .option('--target-dim <n>', 'star head: shared embedding width', positiveInt('target-dim'))
    .option('--logit-scale <x>', 'star head: initial logit scale, 1..100 (default 10, chosen on validation; sail train: 20)', numberArg('logit-scale', { min: 1, max: 100 }))
    .option('--logit-bias <x>', 'star head: initial logit bias (default -5, chosen on validation; sail train: -10)', numberArg('logit-bias', {}))
    .option('--linear-steps <n>', 'linear probe: training steps', positiveInt('linear-steps'))
    .option('--linear-batch-size <n>', 'linear probe: training batch size', positiveInt('linear-batch-size'))
    .option('--linear-lr <x>', 'linear probe: Lion learning rate', positiveNumber('linear-lr'))
    .option('--linear-weight-decay <x>', 'linear probe: weight decay', nonNegative('linear-weight-decay'))
    .option('--linear-target-dim <n>', 'linear probe: shared embedding width', positiveInt('linear-target-dim'))
    .option('--linear-logit-scale <x>', 'linear probe: initial logit scale, 1..100 (default 20)', numberArg('linear-logit-scale', { min: 1, max: 100 }))
    .option('--linear-logit-bias <x>', 'linear probe: initial logit bias (default -10)', numberArg('linear-logit-bias', {}))
    .option('--ridge-lambdas <list>', 'ridge penalties, comma-separated (one row each)', positiveList('ridge-lambdas'))
    .option('--ridge-targets <list>', 'ridge targets: text, text+extra', ridgeTargetList)
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
        const { backbones: _b, json: _j, ...options } = flags;
        result = await runDemo({ ...options, imageBackbone, textBackbone, onProgress });
      } finally {
        bars.stop();
      }
      if (flags.json) {
        console.log(JSON.stringify(result, null, 2));
        return;
      }
      const d = result.dataset;
      const what = d.heldOut === 'test' ? 'test' : 'VALIDATION (tuning mode; carved from the training concepts)';
      console.log(`\nHeld-out zero-shot ${what}: ${d.test} Twemoji concepts never seen in training (trained on ${d.train} concepts, ${d.trainImages} drawings: ${d.styles.join(', ')}).`);
      console.log('Values in %; T2I/I2T = text->image / image->text recall@K; cat/sub = zero-shot category / sub-category top-K.\n');
      console.log(result.table);
      for (const c of result.comparisons) {
        console.log(`\nSAIL star - ${c.against} (paired by seed; 95% bootstrap over concepts):`);
        for (const r of c.results) {
          const pp = (x: number): string => (100 * x).toFixed(1);
          console.log(`  ${r.metric.padEnd(9)} ${pp(r.diff).padStart(6)} points, se ${pp(r.se)}, CI [${pp(r.ci95[0])}, ${pp(r.ci95[1])}]`);
        }
      }
      const t = result.timings;
      console.log(`\ntime: encode ${t.encodeS.toFixed(1)} s, train ${t.trainS.toFixed(1)} s, ridge ${t.ridgeS.toFixed(1)} s, eval ${t.evalS.toFixed(1)} s, total ${t.totalS.toFixed(1)} s`);
      console.log('\nartifacts:');
      for (const [k, v] of Object.entries(result.artifacts)) console.log(`  ${k.padEnd(16)} ${v}`);
    });
}
