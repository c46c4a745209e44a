// `sail train STORE`: train an alignment head on a pre-computed embedding store.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { trainLoop, type TrainLoopOptions, type TrainSummary } from '../train/loop.js';
import { defaultHeadConfig, HEAD_TYPES, type HeadType } from '../head/config.js';
import type { LossType } from '../train/engine-types.js';
import { OPTIMIZER_DEFAULTS, type OptimizerKind } from '../train/optimizer.js';
import { DEFAULT_LR, DEFAULT_WD, LOSS_TYPES, OPTIMIZER_KINDS, TRAIN_DEFAULTS } from '../train/defaults.js';
import { useDevice } from './device.js';
import { SailError } from '../util/errors.js';
import { NON_NEGATIVE_INT, oneOf, parseNumber as num, parseOptional, POSITIVE_INT } from './flags.js';
import { lockFolder } from '../util/lease.js';

interface TrainFlags {
  head: string;
  widthFactor: string;
  dim: string;
  loss: string;
  optimizer: string;
  lr?: string;
  wd?: string;
  beta1?: string;
  beta2?: string;
  eps?: string;
  batchSize: string;
  steps?: string;
  epochs?: string;
  warmupSteps?: string;
  seed: string;
  shuffle: boolean;
  init?: string;
  resume?: boolean;
  out: string;
  threads?: string;
  device?: string;
  extraText?: string;
  checkpointEvery: string;
  logitScale: string;
  logitBias: string;
  json?: boolean;
  valStore?: string;
  valEvery: string;
  valTextModality: string;
  verifyStore?: boolean;
}

/** Retrieval on a pre-encoded validation store, through eval (loaded on use: train never imports eval). */
function validation(storeDir: string, f: TrainFlags, print: (line: string) => void): NonNullable<TrainLoopOptions['validate']> {
  const everyEpochs = num(f.valEvery, '--val-every', POSITIVE_INT);
  const textModalities = f.valTextModality.split(',').map((m) => m.trim()).filter(Boolean);
  return {
    everyEpochs,
    // before the first step: a validation store of other widths or backbones would be reinterpreted
    check: async (config) => {
      const [{ openStore }, { assertHeadFitsStore }] = await Promise.all([import('../store/reader.js'), import('../head/check.js')]);
      const store = await openStore(storeDir);
      try {
        assertHeadFitsStore(config, store, 'image', 'vision');
        for (const m of textModalities) assertHeadFitsStore(config, store, m, 'text');
      } finally {
        await store.close();
      }
    },
    run: async (head, at) => {
      const { evaluateRetrievalOnStores } = await import('../eval/tasks.js');
      const m = await evaluateRetrievalOnStores(storeDir, { head, textModalities });
      print(`validation at step ${at.step} (epoch ${at.epoch}): ${JSON.stringify(m)}`);
      return { retrieval: m };
    },
  };
}

/** A moment decay in [0, 1). */
function beta(v: string, flag: string): number {
  const b = num(v, flag, { min: 0 });
  if (!(b < 1)) throw new SailError(`${flag} must be in [0, 1), got ${v}`);
  return b;
}

/** Seeds are 32-bit (the RNG's state); larger values would silently alias smaller ones. */
const MAX_SEED = 0xffffffff;
/** Output widths beyond this are not heads but typos (`--dim 1e9`); the head's size is checked again in the library. */
const MAX_DIM = 65536;
const MAX_WIDTH_FACTOR = 64;

/** Register `sail train`. */
export function register(program: Command): void {
  program
    .command('train')
    .description('train an alignment head (SAIL) on an embedding store; writes OUT/checkpoint/ and OUT/train.jsonl')
    .argument('<store>', 'embedding store folder (see `sail store import`)')
    .requiredOption('--out <dir>', 'output folder (checkpoint/, train.jsonl)')
    .option('--head <type>', `head type: ${HEAD_TYPES.join(' | ')}`, defaultHeadConfig.type)
    .option('--width-factor <n>', 'star head hidden width = n x input width', String(defaultHeadConfig.widthFactor))
    .option('--dim <n>', 'shared output width', String(defaultHeadConfig.targetDim))
    .option('--loss <type>', LOSS_TYPES.join(' | '), TRAIN_DEFAULTS.loss)
    .option('--optimizer <type>', OPTIMIZER_KINDS.join(' | '), TRAIN_DEFAULTS.optimizer)
    .option('--lr <x>', `peak learning rate (default ${DEFAULT_LR.lion} for lion, ${DEFAULT_LR.adamw} for adamw as in the original; the paper uses lion 1e-5 with batch 32768 and ~100 epochs)`)
    .option('--wd <x>', `decoupled weight decay (default ${DEFAULT_WD.lion} for lion as in the paper, ${DEFAULT_WD.adamw} for adamw as in the original)`)
    .option('--beta1 <x>', 'first moment decay (default 0.9, lion and adamw)')
    .option('--beta2 <x>', 'second moment decay (adamw) / momentum decay (lion); default 0.99 for both, as in the original')
    .option('--eps <x>', 'adamw epsilon (default 1e-8)')
    .option('--batch-size <n>', 'pairs per step (the SigLIP loss sees batch^2 pairs; the paper uses 32768)', String(TRAIN_DEFAULTS.batchSize))
    .option('--steps <n>', 'total optimizer steps (overrides --epochs)')
    .option('--epochs <n>', `full passes over the store, incomplete last batch dropped (default ${TRAIN_DEFAULTS.epochs})`)
    .option('--warmup-steps <n>', 'linear warmup steps (default ceil(10% of total)), then cosine to 0')
    .option('--seed <n>', 'seed of initialisation and shuffling', String(TRAIN_DEFAULTS.seed))
    .option('--no-shuffle', 'read rows in store order')
    .option('--init <file>', 'start from head weights in a .safetensors file (same head type and widths)')
    .option('--resume', 'continue from OUT/checkpoint (bit-identical to an uninterrupted run)')
    .option('--threads <n>', 'compute threads for the engine')
    .option('--device <cpu|cuda|webgpu>', 'where the training graphs run (`sail doctor` shows what works here)', 'cpu')
    .option('--extra-text <modality>', 'store modality with extra positive captions (SigLIP only), e.g. extra_text')
    .option('--checkpoint-every <k>', 'write a checkpoint every k steps (0: only at the end)', String(TRAIN_DEFAULTS.checkpointEvery))
    .option('--logit-scale <x>', 'initial effective logit scale', String(defaultHeadConfig.logitScaleInit))
    .option('--logit-bias <x>', 'initial logit bias', String(defaultHeadConfig.logitBiasInit))
    .option('--val-store <dir>', 'pre-encoded validation store: image<->text retrieval R@1/5/10 logged to OUT/val.jsonl')
    .option('--val-every <k>', 'validate every k epochs (and after the last step)', '1')
    .option('--val-text-modality <names>', 'caption modalities of the validation store, comma-separated', 'text')
    .option('--verify-store', 'check the sha256 of every store file before training (opening checks layout and sizes only; see `sail store verify`)')
    .option('--json', 'print a JSON summary at the end')
    .action(async (storeDir: string, f: TrainFlags) => {
      useDevice(f.device);
      const optimizer = oneOf<OptimizerKind>(f.optimizer, OPTIMIZER_KINDS, '--optimizer');
      const loss = oneOf<LossType>(f.loss, LOSS_TYPES, '--loss');
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
        summary = await trainLoop({
          storeDir,
          outDir: f.out,
          // loaded on use, so other commands do not pay for starting onnxruntime
          createEngine: async (opts) => (await import('../train/engine.js')).createTrainEngine(opts),
          head: {
            type: oneOf<HeadType>(f.head, HEAD_TYPES, '--head'),
            widthFactor: num(f.widthFactor, '--width-factor', { ...POSITIVE_INT, max: MAX_WIDTH_FACTOR }),
            targetDim: num(f.dim, '--dim', { ...POSITIVE_INT, max: MAX_DIM }),
            logitScaleInit: logitScale,
            logitBiasInit: num(f.logitBias, '--logit-bias'),
          },
          loss,
          optimizer,
          lr: f.lr !== undefined ? num(f.lr, '--lr', { min: 0 }) : OPTIMIZER_DEFAULTS[optimizer].lr,
          weightDecay: f.wd !== undefined ? num(f.wd, '--wd', { min: 0 }) : OPTIMIZER_DEFAULTS[optimizer].weightDecay,
          beta1: f.beta1 !== undefined ? beta(f.beta1, '--beta1') : OPTIMIZER_DEFAULTS[optimizer].beta1,
          beta2: f.beta2 !== undefined ? beta(f.beta2, '--beta2') : OPTIMIZER_DEFAULTS[optimizer].beta2,
          ...(optimizer === 'adamw' ? { eps: f.eps !== undefined ? num(f.eps, '--eps', { positive: true }) : OPTIMIZER_DEFAULTS.adamw.eps } : {}),
          batchSize: num(f.batchSize, '--batch-size', { int: true, min: 2 }),
          steps: parseOptional(f.steps, '--steps', POSITIVE_INT),
          // epochs left out: the library's default (TRAIN_DEFAULTS.epochs) applies
          epochs: f.steps === undefined ? parseOptional(f.epochs, '--epochs', POSITIVE_INT) : undefined,
          warmupSteps: parseOptional(f.warmupSteps, '--warmup-steps', NON_NEGATIVE_INT),
          seed: num(f.seed, '--seed', { ...NON_NEGATIVE_INT, max: MAX_SEED }),
          shuffle: f.shuffle,
          extraText: f.extraText,
          initFile: f.init,
          resume: f.resume === true,
          verifyStore: f.verifyStore === true,
          checkpointEvery: num(f.checkpointEvery, '--checkpoint-every', NON_NEGATIVE_INT),
          threads: parseOptional(f.threads, '--threads', POSITIVE_INT),
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
