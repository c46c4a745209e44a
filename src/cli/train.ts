// `sail train STORE`: train an alignment head on a pre-computed embedding store.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { trainLoop, type TrainLoopOptions, type TrainSummary } from '../train/loop.js';
import type { HeadType } from '../head/config.js';
import type { LossType } from '../train/engine-types.js';
import type { OptimizerKind } from '../train/optimizer.js';
import { SailError } from '../util/errors.js';
import { openStore } from '../store/reader.js';
import type { RetrievalMetrics } from '../eval/metrics.js';
import { oneOf, parseNumber } from './flags.js';
import { lockFolder } from '../util/lease.js';

interface TrainFlags {
  head: string;
  widthFactor?: string;
  dim?: string;
  loss: string;
  optimizer: string;
  lr?: string;
  wd?: string;
  batchSize?: string;
  steps?: string;
  epochs?: string;
  warmupSteps?: string;
  seed: string;
  shuffle: boolean;
  init?: string;
  resume?: boolean;
  out: string;
  threads?: string;
  extraText?: string;
  checkpointEvery: string;
  logitScale: string;
  logitBias: string;
  json?: boolean;
  valStore?: string;
  valEvery: string;
  valTextModality: string;
}

/** Retrieval on a pre-encoded validation store, through eval (loaded on use: train never imports eval). */
function validation(storeDir: string, f: TrainFlags, print: (line: string) => void): NonNullable<TrainLoopOptions['validate']> {
  const everyEpochs = num(f.valEvery, '--val-every', { int: true, positive: true });
  const textModalities = f.valTextModality.split(',').map((m) => m.trim()).filter(Boolean);
  return {
    everyEpochs,
    run: async (head, at) => {
      const { evaluateRetrievalOnStores } = await import('../eval/tasks.js');
      const m = await evaluateRetrievalOnStores(storeDir, { head, textModalities });
      print(`validation at step ${at.step} (epoch ${at.epoch}): ${validationLine(m)}`);
      return { retrieval: m };
    },
  };
}

/** One short line of validation retrieval (the full metrics go to OUT/val.jsonl). */
export function validationLine(m: RetrievalMetrics): string {
  const side = (d: Record<string, number>) => ['R@1', 'R@5', 'R@10'].filter((k) => k in d).map((k) => `${k} ${d[k].toFixed(1)}`).join(' ');
  const chance = m.chance ? ` (chance R@1 ${m.chance.imageToText['R@1'].toFixed(1)} / ${m.chance.textToImage['R@1'].toFixed(1)})` : '';
  return `image->text ${side(m.imageToText)} | text->image ${side(m.textToImage)} %, ${m.nImages} images${chance}`;
}

/** The batch size when --batch-size is not given: 4096, or the largest power of two the store can fill. */
export const DEFAULT_BATCH = 4096;
export function autoBatchSize(rows: number): { batch: number; why?: string } {
  if (rows < 2) throw new SailError(`the store has ${rows} row(s); training needs at least 2`);
  if (rows >= DEFAULT_BATCH) return { batch: DEFAULT_BATCH };
  const batch = 2 ** Math.floor(Math.log2(rows));
  return { batch, why: `the default ${DEFAULT_BATCH} is more than the store's ${rows} rows; ${batch} is the largest power of two that fits, so every epoch has a full batch (${Math.floor(rows / batch)} step(s) per epoch); --batch-size overrides` };
}

/** Below this many rows the head defaults shrink to {@link SMALL_HEAD}. */
export const SMALL_STORE_ROWS = 20_000;
/** The head docs/demo.md measured on 1,529 pairs: a quarter of the paper's hidden width, half its output. */
export const SMALL_HEAD = { widthFactor: 2, dim: 512 };

/** Head size when --width-factor / --dim are not given: the paper's 8 x and 1024, or {@link SMALL_HEAD} on small stores. */
export function autoHeadSize(rows: number): { widthFactor: number; dim: number; why?: string } {
  if (rows >= SMALL_STORE_ROWS) return { widthFactor: 8, dim: 1024 };
  return { ...SMALL_HEAD, why: `the store has ${rows} rows (< ${SMALL_STORE_ROWS}): a head with the paper's width 8 and dim 1024 has 4x the hidden width and 2x the output for data this small; --width-factor and --dim override` };
}

/** Default learning rates: the paper's 1e-5 is tuned for batch 32768 over many epochs; small runs need more. */
const DEFAULT_LR: Record<OptimizerKind, number> = { lion: 1e-4, adamw: 1e-3 };
const DEFAULT_WD: Record<OptimizerKind, number> = { lion: 1e-4, adamw: 0.05 };

const num = parseNumber;

/** --batch-size, checked against the store; chosen (and explained on stderr) when not given. */
async function chooseBatch(storeDir: string, flag: string | undefined): Promise<{ batchSize: number; rows: number }> {
  const store = await openStore(storeDir);
  const rows = store.rows;
  await store.close();
  if (flag !== undefined) {
    const b = num(flag, '--batch-size', { int: true, min: 2 });
    if (b > rows) throw new SailError(`--batch-size ${b} is more than the store's ${rows} rows: pass --batch-size ${rows} or less, or leave it out to choose automatically`, { file: storeDir });
    return { batchSize: b, rows };
  }
  const { batch, why } = autoBatchSize(rows);
  if (why) process.stderr.write(`sail train: batch size ${batch}: ${why}\n`);
  return { batchSize: batch, rows };
}

/** --width-factor and --dim, or the small-store defaults (explained on stderr) when not given. */
function chooseHeadSize(rows: number, f: TrainFlags): { widthFactor: number; dim: number } {
  const auto = autoHeadSize(rows);
  const widthFactor = f.widthFactor !== undefined ? num(f.widthFactor, '--width-factor', { int: true, positive: true }) : auto.widthFactor;
  const dim = f.dim !== undefined ? num(f.dim, '--dim', { int: true, positive: true }) : auto.dim;
  if (auto.why && (f.widthFactor === undefined || f.dim === undefined)) process.stderr.write(`sail train: head width factor ${widthFactor}, dim ${dim}: ${auto.why}\n`);
  return { widthFactor, dim };
}

/** Register `sail train`. */
export function register(program: Command): void {
  program
    .command('train')
    .description('train an alignment head (SAIL) on an embedding store; writes OUT/checkpoint/ and OUT/train.jsonl')
    .argument('<store>', 'embedding store folder (see `sail store import`)')
    .requiredOption('--out <dir>', 'output folder (checkpoint/, train.jsonl)')
    .option('--head <type>', 'head type: star | mlp | linear', 'star')
    .option('--width-factor <n>', `star head hidden width = n x input width (default 8 as in the paper; ${SMALL_HEAD.widthFactor} on stores under ${SMALL_STORE_ROWS} rows)`)
    .option('--dim <n>', `shared output width (default 1024; ${SMALL_HEAD.dim} on stores under ${SMALL_STORE_ROWS} rows)`)
    .option('--loss <type>', 'siglip | infonce', 'siglip')
    .option('--optimizer <type>', 'lion | adamw', 'lion')
    .option('--lr <x>', 'peak learning rate (default 1e-4 for lion, 1e-3 for adamw; the paper uses 1e-5 with batch 32768 and ~100 epochs)')
    .option('--wd <x>', 'decoupled weight decay (default 1e-4 for lion as in the paper, 0.05 for adamw)')
    .option('--batch-size <n>', `pairs per step (the SigLIP loss sees batch^2 pairs; the paper uses 32768); default ${DEFAULT_BATCH}, or the largest power of two <= the store's rows on smaller stores`)
    .option('--steps <n>', 'total optimizer steps (overrides --epochs)')
    .option('--epochs <n>', 'full passes over the store, incomplete last batch dropped (default 10)')
    .option('--warmup-steps <n>', 'linear warmup steps (default ceil(10% of total)), then cosine to 0')
    .option('--seed <n>', 'seed of initialisation and shuffling', '42')
    .option('--no-shuffle', 'read rows in store order')
    .option('--init <file>', 'start from head weights in a .safetensors file (same head type and widths)')
    .option('--resume', 'continue from OUT/checkpoint (bit-identical to an uninterrupted run)')
    .option('--threads <n>', 'compute threads for the engine')
    .option('--extra-text <modality>', 'store modality with extra positive captions (SigLIP only), e.g. extra_text')
    .option('--checkpoint-every <k>', 'write a checkpoint every k steps (0: only at the end)', '500')
    .option('--logit-scale <x>', 'initial effective logit scale', '20')
    .option('--logit-bias <x>', 'initial logit bias', '-10')
    .option('--val-store <dir>', 'pre-encoded validation store: image<->text retrieval R@1/5/10 logged to OUT/val.jsonl')
    .option('--val-every <k>', 'validate every k epochs (and after the last step)', '1')
    .option('--val-text-modality <names>', 'caption modalities of the validation store, comma-separated', 'text')
    .option('--json', 'print a JSON summary at the end')
    .action(async (storeDir: string, f: TrainFlags) => {
      const optimizer = oneOf<OptimizerKind>(f.optimizer, ['lion', 'adamw'], '--optimizer');
      const loss = oneOf<LossType>(f.loss, ['siglip', 'infonce'], '--loss');
      const logitScale = num(f.logitScale, '--logit-scale', { positive: true });
      if (logitScale < 1 || logitScale > 100) throw new SailError(`--logit-scale must be in [1, 100] (the log-scale is clamped to [0, ln 100]), got ${logitScale}`);
      const controller = new AbortController();
      const onSigint = () => {
        if (controller.signal.aborted) process.exit(130);
        process.stderr.write('\nsail: stopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n');
        controller.abort();
      };
      process.on('SIGINT', onSigint);
      const bar = new cliProgress.SingleBar(
        { format: 'train [{bar}] {value}/{total} steps | loss {loss} | {pps} pairs/s | lr {lr}', stream: process.stderr, etaBuffer: 20 },
        cliProgress.Presets.shades_classic);
      let started = false;
      let summary: TrainSummary;
      // one trainer per --out folder: a second one is refused at once, naming the holder
      const lease = await lockFolder(f.out, 'sail train');
      try {
        // after the lock: a locked --out is refused before the store is even read
        const { batchSize, rows } = await chooseBatch(storeDir, f.batchSize);
        const headSize = chooseHeadSize(rows, f);
        summary = await trainLoop({
          storeDir,
          outDir: f.out,
          // loaded on use, so other commands do not pay for starting onnxruntime
          createEngine: async (opts) => (await import('../train/engine.js')).createTrainEngine(opts),
          head: {
            type: oneOf<HeadType>(f.head, ['star', 'mlp', 'linear'], '--head'),
            widthFactor: headSize.widthFactor,
            targetDim: headSize.dim,
            logitScaleInit: logitScale,
            logitBiasInit: num(f.logitBias, '--logit-bias'),
          },
          loss,
          optimizer,
          lr: f.lr !== undefined ? num(f.lr, '--lr', { min: 0 }) : DEFAULT_LR[optimizer],
          weightDecay: f.wd !== undefined ? num(f.wd, '--wd', { min: 0 }) : DEFAULT_WD[optimizer],
          batchSize,
          steps: f.steps !== undefined ? num(f.steps, '--steps', { int: true, positive: true }) : undefined,
          epochs: f.steps === undefined ? (f.epochs !== undefined ? num(f.epochs, '--epochs', { int: true, positive: true }) : 10) : undefined,
          warmupSteps: f.warmupSteps !== undefined ? num(f.warmupSteps, '--warmup-steps', { int: true, min: 0 }) : undefined,
          seed: num(f.seed, '--seed', { int: true, min: 0 }),
          shuffle: f.shuffle,
          extraText: f.extraText,
          initFile: f.init,
          resume: f.resume === true,
          checkpointEvery: num(f.checkpointEvery, '--checkpoint-every', { int: true, min: 0 }),
          threads: f.threads !== undefined ? num(f.threads, '--threads', { int: true, positive: true }) : undefined,
          signal: controller.signal,
          // a line below the progress bar, which redraws on its next update
          validate: f.valStore !== undefined ? validation(f.valStore, f, (line) => process.stderr.write(`${started ? '\n' : ''}${line}\n`)) : undefined,
          onProgress: (p) => {
            if (!started) {
              bar.start(p.totalSteps, p.step - 1, { loss: '-', pps: '-', lr: '-' });
              started = true;
            }
            bar.update(p.step, { loss: p.loss.toFixed(4), pps: Math.round(p.pairsPerSec), lr: p.lr.toExponential(2) });
          },
        });
      } finally {
        if (started) bar.stop();
        process.off('SIGINT', onSigint);
        await lease.release();
      }
      const out = {
        store: storeDir, out: f.out, checkpoint: summary.checkpoint, log: summary.log, head: summary.head,
        steps: summary.steps, totalSteps: summary.totalSteps, epochs: summary.epochs, resumedFromStep: summary.resumedFromStep,
        stopped: summary.stopped, last: summary.last, pairsPerSec: summary.pairsPerSec, seconds: summary.seconds,
      };
      if (f.json) console.log(JSON.stringify(out, null, 2));
      else {
        console.log(`${summary.stopped ? 'stopped' : 'trained'} ${summary.steps}/${summary.totalSteps} steps` +
          (summary.last ? `, loss ${summary.last.loss.toFixed(4)}, scale ${summary.last.scale.toFixed(2)}, bias ${summary.last.bias.toFixed(3)}` : '') +
          `, ${Math.round(summary.pairsPerSec)} pairs/s; head in ${summary.checkpoint}/head.safetensors`);
      }
    });
}
