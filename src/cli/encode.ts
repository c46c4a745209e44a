// `sail encode`: pre-encode an image-text dataset with frozen backbones into an embedding store. Thin:
// parses flags, loads the backbones, shows a progress bar; the work is in src/encoders/pipeline.ts.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { SailError } from '../util/errors.js';
import { encode, type EncodeProgress } from '../encoders/pipeline.js';
import { loadImageEncoder, loadTextEncoder, type EncoderLoadOptions } from '../encoders/registry.js';
import { checkPooling, checkRecipe } from '../encoders/pooling.js';
import { checkModalityName } from '../store/format.js';
import type { CaptionSpec } from '../encoders/source-row.js';
import { numberArg } from './flags.js';
import { useDevice } from './device.js';
import { executionProvidersFor } from '../onnx/device.js';

const positiveInt = (name: string) => numberArg(name, { int: true, positive: true });

function parseShard(v: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[1]) >= Number(m[2])) throw new SailError(`--shard must be i/n with 0 <= i < n, got ${JSON.stringify(v)}`);
  return { index: Number(m[1]), count: Number(m[2]) };
}

function collect(v: string, acc: string[] = []): string[] {
  return [...acc, v];
}

interface EncodeFlags {
  out: string;
  imageModel?: string;
  textModel?: string;
  imageModelDir?: string;
  textModelDir?: string;
  recipe?: string;
  pooling?: string;
  instruction?: string;
  maxLength?: number;
  imageColumn?: string;
  captionColumn?: string;
  extraCaptionColumn?: string[];
  imageRoot?: string;
  partSize?: number;
  batchSize?: number;
  shard?: { index: number; count: number };
  onError: string;
  dtype: string;
  threads?: number;
  device: string;
  allowDownload?: boolean;
  cacheDir?: string;
  limit?: number;
  json?: boolean;
  progress: boolean;
}

/** `--extra-caption-column COL[=NAME]`: the first extra goes to modality 'extra_text' unless named. */
function captionSpecs(flags: EncodeFlags): CaptionSpec[] | undefined {
  if (!flags.captionColumn && !flags.extraCaptionColumn?.length) return undefined;
  const specs: CaptionSpec[] = [{ modality: 'text', column: flags.captionColumn ?? 'caption' }];
  (flags.extraCaptionColumn ?? []).forEach((v, i) => {
    const eq = v.indexOf('=');
    const column = eq >= 0 ? v.slice(0, eq) : v;
    const modality = eq >= 0 ? v.slice(eq + 1) : i === 0 ? 'extra_text' : column;
    checkModalityName(modality);
    if (specs.some((s) => s.modality === modality)) throw new SailError(`caption modality ${modality} given twice`);
    specs.push({ modality, column });
  });
  return specs;
}

/** Register `sail encode`. */
export function register(program: Command): void {
  program
    .command('encode')
    .description('Pre-encode images and captions with frozen backbones into an embedding store (resumable, shardable)')
    .argument('<input>', 'image folder (sidecar .txt captions), .csv/.tsv/.jsonl manifest, or WebDataset .tar shard(s) / folder of shards')
    .requiredOption('--out <dir>', 'store folder (created, or resumed when it exists)')
    .option('--image-model <name|dir>', 'image backbone: registry name (e.g. dinov2-large, dinov2-large:cls) or a local model folder')
    .option('--text-model <name|dir>', 'text backbone: registry name (e.g. gte-large-en-v1.5) or a local model folder')
    .option('--image-model-dir <dir>', 'local transformers.js folder for a registry image backbone')
    .option('--text-model-dir <dir>', 'local transformers.js folder for a registry text backbone')
    .option('--recipe <concat|cls|patch>', 'DINOv2 aggregation (default concat = [CLS ; mean(patch)])')
    .option('--pooling <cls|mean|last>', 'text pooling override')
    .option('--instruction <text>', 'prefix prepended to every caption (none by default)')
    .option('--max-length <n>', 'text truncation length in tokens', positiveInt('max-length'))
    .option('--image-column <col>', 'manifest column with image paths')
    .option('--caption-column <col>', "manifest column (tar: member or json field) for modality 'text'")
    .option('--extra-caption-column <col[=name]>', "further caption source; the first is stored as 'extra_text' (repeatable)", collect)
    .option('--image-root <dir>', 'folder that relative manifest image paths are joined to')
    .option('--part-size <n>', 'source rows per store part', positiveInt('part-size'))
    .option('--batch-size <n>', 'rows per inference batch', positiveInt('batch-size'))
    .option('--shard <i/n>', 'this process handles parts with index % n == i', parseShard)
    .option('--on-error <skip|fail>', 'unreadable rows: skip (record in errors.jsonl, drop from every modality) or fail', 'skip')
    .option('--dtype <float16|float32>', 'stored element type', 'float16')
    .option('--threads <n>', 'inference threads', positiveInt('threads'))
    .option('--device <cpu|cuda|webgpu>', 'where the backbones run (`sail doctor` shows what works here)', 'cpu')
    .option('--allow-download', 'download missing registry models from huggingface.co into the cache')
    .option('--cache-dir <dir>', 'model cache folder (default ~/.cache/sail/models)')
    .option('--limit <n>', 'use only the first N source rows', positiveInt('limit'))
    .option('--json', 'print the result as JSON')
    .option('--no-progress', 'no progress bar')
    .action(async (input: string, flags: EncodeFlags) => {
      if (flags.onError !== 'skip' && flags.onError !== 'fail') throw new SailError(`--on-error must be skip or fail, got ${JSON.stringify(flags.onError)}`);
      if (flags.dtype !== 'float16' && flags.dtype !== 'float32') throw new SailError(`--dtype must be float16 or float32, got ${JSON.stringify(flags.dtype)}`);
      const device = useDevice(flags.device);
      if (!flags.imageModel && !flags.textModel) throw new SailError('give --image-model, --text-model, or both');
      const common: EncoderLoadOptions = {
        threads: flags.threads,
        executionProviders: executionProvidersFor(device),
        batchSize: flags.batchSize,
        allowDownload: flags.allowDownload,
        cacheDir: flags.cacheDir,
      };
      const imageEncoder = flags.imageModel
        ? await loadImageEncoder(flags.imageModel, { ...common, modelDir: flags.imageModelDir, recipe: flags.recipe ? checkRecipe(flags.recipe) : undefined })
        : undefined;
      const textEncoder = flags.textModel
        ? await loadTextEncoder(flags.textModel, {
          ...common, modelDir: flags.textModelDir, pooling: flags.pooling ? checkPooling(flags.pooling) : undefined,
          instruction: flags.instruction, maxLength: flags.maxLength,
        })
        : undefined;
      const bar = flags.progress && !flags.json && process.stderr.isTTY
        ? new cliProgress.SingleBar({ format: 'encode [{bar}] {value}/{total} rows | {rate} items/s | ETA {eta_formatted} | dropped {dropped}', hideCursor: true }, cliProgress.Presets.shades_classic)
        : undefined;
      let started = false;
      const onProgress = (p: EncodeProgress) => {
        if (!bar) return;
        if (!started) {
          bar.start(p.rowsTodo ?? 0, 0, { rate: '0', dropped: 0 });
          started = true;
        }
        if (p.rowsTodo === undefined) bar.setTotal(p.rowsDone);
        bar.update(p.rowsDone, { rate: p.itemsPerSec.toFixed(1), dropped: p.dropped });
      };
      try {
        const res = await encode({
          input, out: flags.out, imageEncoder, textEncoder,
          imageColumn: flags.imageColumn, captions: captionSpecs(flags), imageRoot: flags.imageRoot,
          partSize: flags.partSize, batchSize: flags.batchSize, shard: flags.shard,
          onError: flags.onError, dtype: flags.dtype, limit: flags.limit, onProgress,
        });
        bar?.stop();
        const summary = {
          out: flags.out, partsWritten: res.partsWritten, partsSkipped: res.partsSkipped, rowsEncoded: res.rowsEncoded,
          dropped: res.dropped, sourceRows: res.sourceRows, finalized: !!res.manifest, rows: res.manifest?.rows ?? null,
          modalities: res.manifest?.modalities ?? null,
        };
        if (flags.json) console.log(JSON.stringify(summary));
        else {
          console.log(`encoded ${res.rowsEncoded} rows into ${res.partsWritten} part(s), skipped ${res.partsSkipped} part(s), dropped ${res.dropped} row(s)`);
          console.log(res.manifest ? `store complete: ${res.manifest.rows} rows in ${flags.out}` : 'store not complete yet (other shards still running); rerun any shard to finalise');
        }
      } finally {
        bar?.stop();
        await imageEncoder?.dispose();
        await textEncoder?.dispose();
      }
    });
}
