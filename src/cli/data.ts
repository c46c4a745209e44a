// `sail data import|k8s`: local folders into shards, and Kubernetes Indexed Job manifests for scale-out.
import type { Command } from 'commander';
import { writeFileAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { importFolder, type CaptionSource } from '../data/import.js';
import { K8S_DEFAULTS, renderIndexedJob, type K8sJobKind } from '../data/k8s.js';
import type { ListFormat } from '../data/lists.js';
import { parseShardSplit } from '../data/shards.js';
import { oneOf } from './flags.js';
import { registerSplit } from './split.js';
import { addCommonOptions, FLAG_LIMITS, imageFlags, intFlag, printSummary, progressBar, type CommonFlags } from './download.js';

interface ImportFlags extends CommonFlags {
  input: string;
  captions: string;
  list?: string;
  format?: string;
  fileCol: string;
  captionCol: string[];
  captionLine: string;
  captionRegex?: string;
}

interface K8sFlags {
  kind: string;
  completions: string;
  parallelism?: string;
  image: string;
  input: string;
  output: string;
  name?: string;
  pvc: string;
  cpu: string;
  memory: string;
  arg: string[];
  out?: string;
}

/** Register `sail data`. */
export function register(program: Command): void {
  const data = program.command('data').description('data preparation: import local folders, render scale-out manifests');

  const imp = data
    .command('import')
    .description('import a local folder of images with captions into WebDataset shards (same format as `sail download`)')
    .requiredOption('-i, --input <dir>', 'folder of images')
    .option('--captions <mode>', 'sidecar (photo.txt beside photo.jpg), list (a CSV/TSV/JSONL/Parquet file -> captions), folder (parent folder name)', 'sidecar')
    .option('--list <file>', 'mapping file for --captions list')
    .option('--format <fmt>', 'format of --list (default: from the extension)')
    .option('--file-col <name>', 'column of --list holding the image path relative to --input', 'file')
    .option('--caption-col <name>', 'caption column of --list (repeat for several)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--caption-line <which>', 'sidecar captions: all (the whole file, newlines become spaces) or first (the first non-empty line)', 'all')
    .option('--caption-regex <re>', 'sidecar captions: the first capture group of the first match (multiline), e.g. "^en\\.utf8=(.+)$"; overrides --caption-line');
  addCommonOptions(imp).action(async (f: ImportFlags) => {
    let captions: CaptionSource;
    const captionLine = oneOf<'all' | 'first'>(f.captionLine, ['all', 'first'], '--caption-line');
    if (f.captions !== 'sidecar' && (f.captionRegex !== undefined || captionLine !== 'all')) throw new SailError('--caption-line and --caption-regex apply to --captions sidecar only');
    if (f.captions === 'sidecar') captions = { kind: 'sidecar', line: captionLine, ...(f.captionRegex !== undefined ? { regex: f.captionRegex } : {}) };
    else if (f.captions === 'folder') captions = { kind: 'folder' };
    else if (f.captions === 'list') {
      if (!f.list) throw new SailError('--captions list needs --list <file>');
      captions = { kind: 'list', path: f.list, format: f.format as ListFormat | undefined, fileCol: f.fileCol, captionCols: f.captionCol.length ? f.captionCol : ['caption'] };
    } else throw new SailError(`--captions must be sidecar, list or folder, got ${f.captions}`);
    const bar = progressBar('import');
    const result = await importFolder({
      input: f.input,
      output: f.output,
      captions,
      shardSize: intFlag(f.shardSize, '--shard-size', 1, FLAG_LIMITS.shardSize),
      concurrency: intFlag(f.concurrency, '--concurrency', 1, FLAG_LIMITS.concurrency),
      split: f.shard !== undefined ? parseShardSplit(f.shard) : undefined,
      image: imageFlags(f),
      maxBytes: intFlag(f.maxBytes, '--max-bytes', 1, FLAG_LIMITS.maxBytes),
      onProgress: bar.update,
    }).finally(bar.stop);
    printSummary(result.summary, result.progress, f.output, f.json, result.examples);
  });

  registerSplit(data);

  data
    .command('k8s')
    .description('render a Kubernetes Indexed Job that runs `sail download` or `sail encode` with --shard $(JOB_COMPLETION_INDEX)/N')
    .option('--kind <kind>', 'download or encode', 'download')
    .requiredOption('--completions <n>', 'number of indexed pods (N in --shard i/N)')
    .option('--parallelism <n>', 'pods running at once (default: completions)')
    .requiredOption('--image <img>', 'container image with sail installed')
    .requiredOption('--input <path>', 'input path inside the pod (URL list for download, shard folder for encode)')
    .requiredOption('--output <path>', 'output path inside the pod (shard folder for download, store folder for encode)')
    .option('--name <name>', 'Job name (default sail-<kind>)')
    .option('--pvc <claim>', 'PersistentVolumeClaim mounted at /data', K8S_DEFAULTS.pvc)
    .option('--cpu <n>', 'CPU request per pod', K8S_DEFAULTS.cpu)
    .option('--memory <q>', 'memory request per pod', K8S_DEFAULTS.memory)
    .option('--arg <arg>', 'extra argument passed to the sail command (repeat)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--out <file>', 'write the manifest to a file instead of stdout')
    .action(async (f: K8sFlags) => {
      if (f.kind !== 'download' && f.kind !== 'encode') throw new SailError(`--kind must be download or encode, got ${f.kind}`);
      const yaml = renderIndexedJob({
        kind: f.kind as K8sJobKind,
        completions: intFlag(f.completions, '--completions'),
        parallelism: f.parallelism !== undefined ? intFlag(f.parallelism, '--parallelism') : undefined,
        image: f.image,
        input: f.input,
        output: f.output,
        name: f.name,
        pvc: f.pvc,
        cpu: f.cpu,
        memory: f.memory,
        extraArgs: f.arg,
      });
      if (f.out) await writeFileAtomic(f.out, yaml);
      else process.stdout.write(yaml);
    });
}
