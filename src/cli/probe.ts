// `sail probe`: alignment probing of several backbone pairs (linear heads, SigLIP + Lion), ranked by the
// mean of I2T and T2I R@10 on held-out rows; writes probe.json, probe.md and probe.svg.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { readFileSync } from 'node:fs';
import { PROBE_DEFAULTS, runProbe, type ProbePair } from '../probe/probe.js';
import { createTrainEngine } from '../train/engine.js';
import { SailError } from '../util/errors.js';
import { NON_NEGATIVE_INT, parseNumber as num, parseOptional, POSITIVE_INT } from './flags.js';

interface ProbeFlags {
  pair: string[];
  pairs?: string;
  out: string;
  imageModality: string;
  textModality: string;
  heldOut?: string;
  heldOutStore: string[];
  dim: string;
  lr: string;
  wd: string;
  batchSize: string;
  epochs: string;
  steps?: string;
  seed: string;
  threads?: string;
  json?: boolean;
}

/** `NAME=IMAGE_STORE[,TEXT_STORE]`. */
export function parsePair(spec: string, f: Pick<ProbeFlags, 'imageModality' | 'textModality'>): ProbePair {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new SailError(`--pair ${JSON.stringify(spec)}: expected NAME=IMAGE_STORE[,TEXT_STORE]`);
  const [imageStore, textStore, extra] = spec.slice(eq + 1).split(',');
  if (!imageStore || extra !== undefined) throw new SailError(`--pair ${JSON.stringify(spec)}: expected NAME=IMAGE_STORE[,TEXT_STORE]`);
  return { name: spec.slice(0, eq), imageStore, ...(textStore ? { textStore } : {}), imageModality: f.imageModality, textModality: f.textModality };
}

/** Register `sail probe`. */
export function register(program: Command): void {
  program
    .command('probe')
    .description('alignment probing: train a linear head per backbone pair and rank the pairs by held-out mean R@10')
    .option('--pair <spec...>', 'NAME=IMAGE_STORE[,TEXT_STORE] (repeatable; one store may hold both modalities)', [])
    .option('--pairs <file>', 'JSON list of {name, imageStore, textStore?, imageModality?, textModality?}')
    .requiredOption('--out <dir>', 'output folder (one sub-folder per pair; probe.json/md/svg)')
    .option('--image-modality <name>', 'image modality in the stores', 'image')
    .option('--text-modality <name>', 'text modality in the stores', 'text')
    .option('--held-out <n>', 'held-out rows of the training store: a count, or a fraction < 1 (default 10%, at most 5000)')
    .option('--held-out-store <spec...>', 'score on another store instead: [NAME=]IMAGE_STORE[,TEXT_STORE] (NAME picks the --pair; may be left out with one pair); trains on all rows', [])
    .option('--dim <n>', 'linear head output width (the paper probes with 2048)', String(PROBE_DEFAULTS.targetDim))
    .option('--lr <x>', 'Lion peak learning rate (the paper: 1e-5 with batch 32768 for 100 epochs; short runs need more)', String(PROBE_DEFAULTS.lr))
    .option('--wd <x>', 'weight decay (probing uses 1e-7)', String(PROBE_DEFAULTS.weightDecay))
    .option('--batch-size <n>', 'pairs per step (capped at the train rows)', String(PROBE_DEFAULTS.batchSize))
    .option('--epochs <n>', 'passes over the train rows (the paper: 100)', String(PROBE_DEFAULTS.epochs))
    .option('--steps <n>', 'total steps (overrides --epochs)')
    .option('--seed <n>', 'seed of the split, init and shuffling', String(PROBE_DEFAULTS.seed))
    .option('--threads <n>', 'compute threads')
    .option('--json', 'print the ranking as JSON')
    .action(async (f: ProbeFlags) => {
      const pairs = f.pair.map((p) => parsePair(p, f));
      if (f.pairs) {
        let list: unknown;
        try {
          list = JSON.parse(readFileSync(f.pairs, 'utf8'));
        } catch (err) {
          throw new SailError(`cannot read pairs (${(err as Error).message})`, { file: f.pairs });
        }
        if (!Array.isArray(list)) throw new SailError('expected a JSON array of pairs', { file: f.pairs });
        list.forEach((p: Partial<ProbePair>, i) => {
          if (!p || typeof p.name !== 'string' || typeof p.imageStore !== 'string') throw new SailError('each pair needs "name" and "imageStore"', { file: f.pairs, row: i + 1 });
          pairs.push({ imageModality: f.imageModality, textModality: f.textModality, ...p } as ProbePair);
        });
      }
      if (!pairs.length) throw new SailError('give at least one --pair or --pairs');
      for (const spec of f.heldOutStore) {
        const named = spec.includes('=') ? parsePair(spec, f) : undefined;
        if (!named && pairs.length !== 1) throw new SailError(`--held-out-store ${JSON.stringify(spec)}: with several pairs, name the pair (NAME=IMAGE_STORE[,TEXT_STORE])`);
        const target = named ? pairs.find((p) => p.name === named.name) : pairs[0];
        if (!target) throw new SailError(`--held-out-store ${JSON.stringify(spec)}: no --pair named ${named!.name}`);
        const [imageStore, textStore] = named ? [named.imageStore, named.textStore] : spec.split(',');
        if (f.heldOut !== undefined) throw new SailError('--held-out and --held-out-store exclude each other');
        target.heldOutImageStore = imageStore;
        if (textStore) target.heldOutTextStore = textStore;
      }
      const threads = parseOptional(f.threads, '--threads', POSITIVE_INT);
      const bar = new cliProgress.SingleBar({ format: '{pair} [{bar}] {value}/{total} steps | loss {loss}', stream: process.stderr }, cliProgress.Presets.shades_classic);
      let active = '';
      try {
        const rep = await runProbe({
          pairs, outDir: f.out, createEngine: createTrainEngine,
          heldOut: parseOptional(f.heldOut, '--held-out', { positive: true }),
          targetDim: num(f.dim, '--dim', { ...POSITIVE_INT, max: 65536 }), lr: num(f.lr, '--lr', { min: 0 }), weightDecay: num(f.wd, '--wd', { min: 0 }),
          batchSize: num(f.batchSize, '--batch-size', POSITIVE_INT), epochs: num(f.epochs, '--epochs', POSITIVE_INT),
          steps: parseOptional(f.steps, '--steps', POSITIVE_INT), seed: num(f.seed, '--seed', { ...NON_NEGATIVE_INT, max: 0xffffffff }), threads,
          onProgress: (e) => {
            if (e.stage === 'train' && e.train) {
              if (active !== e.pair) {
                if (active) bar.stop();
                bar.start(e.train.totalSteps, e.train.step - 1, { pair: e.pair, loss: '-' });
                active = e.pair;
              }
              bar.update(e.train.step, { pair: e.pair, loss: e.train.loss.toFixed(4) });
            } else if (e.stage === 'eval' && active) {
              bar.stop();
              active = '';
            }
          },
        });
        if (active) bar.stop();
        active = '';
        if (f.json) console.log(JSON.stringify({ ranking: rep.ranking, json: rep.json }, null, 2));
        else console.log(rep.markdown + `\nwrote ${rep.json}, probe.md and probe.svg`);
      } finally {
        if (active) bar.stop();
      }
    });
}
