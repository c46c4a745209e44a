// `sail store import|info|verify`: build an embedding store from .npy files and inspect it.
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { importNpy } from '../store/npy.js';
import { openStore, type EmbeddingStore } from '../store/reader.js';
import { SailError } from '../util/errors.js';
import { parseOptional, POSITIVE_INT } from './flags.js';
import { lockFolder } from '../util/lease.js';

interface ImportFlags {
  images: string;
  texts: string;
  extraTexts?: string;
  out: string;
  dtype: string;
  imageModel?: string;
  textModel?: string;
  rowsPerPart?: string;
  overwrite?: boolean;
  json?: boolean;
}


/** Register `sail store`. */
export function register(program: Command): void {
  const store = program.command('store').description('embedding stores: import pre-computed embeddings, inspect, verify');

  store
    .command('import')
    .description('import row-aligned .npy embeddings ([rows, dim] float16/float32, little-endian, C order) into a store; resumable')
    .requiredOption('--images <file>', 'image embeddings .npy')
    .requiredOption('--texts <file>', 'caption embeddings .npy: n rows (row i describes image i), or k x n rows (row i describes image i mod n; stored as modalities text, text_2, ..., text_k)')
    .option('--extra-texts <file>', 'extra caption embeddings .npy (stored as modality "extra_text")')
    .requiredOption('--out <dir>', 'store folder to create')
    .option('--dtype <type>', 'storage type: float16 or float32', 'float16')
    .option('--image-model <id>', 'id of the image backbone (recorded in the manifest)')
    .option('--text-model <id>', 'id of the text backbone (recorded in the manifest)')
    .option('--rows-per-part <n>', 'rows per part file (default: ~64 MiB of float32 for the widest modality)')
    .option('--overwrite', 'replace a store in --out that was imported from other inputs (same inputs always resume)')
    .option('--json', 'print the manifest as JSON')
    .action(async (flags: ImportFlags) => {
      if (flags.dtype !== 'float16' && flags.dtype !== 'float32') throw new SailError(`--dtype must be float16 or float32, got ${flags.dtype}`);
      const bar = new cliProgress.SingleBar({ format: 'import [{bar}] {value}/{total} rows', stream: process.stderr }, cliProgress.Presets.shades_classic);
      let started = false;
      // one writer per store folder: a second import is refused at once, naming the holder
      const lease = await lockFolder(flags.out, 'sail store import');
      const manifest = await importNpy({
        images: flags.images, texts: flags.texts, extraTexts: flags.extraTexts, out: flags.out,
        dtype: flags.dtype, imageModel: flags.imageModel, textModel: flags.textModel,
        rowsPerPart: parseOptional(flags.rowsPerPart, '--rows-per-part', POSITIVE_INT),
        overwrite: flags.overwrite === true,
        onProgress: (done, total) => {
          if (!started) {
            bar.start(total, 0);
            started = true;
          }
          bar.update(done);
        },
      }).finally(async () => { if (started) bar.stop(); await lease.release(); });
      if (flags.json) console.log(JSON.stringify(manifest, null, 2));
      else console.log(`store ${flags.out}: ${manifest.rows} rows, ${manifest.parts.length} parts, modalities ${describe(manifest.modalities)}`);
    });

  storeReadCommand(store, 'info', 'show rows, modalities, dims and dtypes of a store', async (s, dir, json) => {
    const m = s.manifest;
    if (json) console.log(JSON.stringify({ dir, rows: m.rows, parts: m.parts.length, modalities: m.modalities, meta: m.meta ?? {} }, null, 2));
    else {
      console.log(`store ${dir}: ${m.rows} rows in ${m.parts.length} parts`);
      for (const [name, spec] of Object.entries(m.modalities)) {
        console.log(`  ${name}: dim ${spec.dim}, ${spec.dtype}${spec.model ? `, model ${spec.model}` : ''}`);
      }
    }
  });

  storeReadCommand(store, 'verify', 'the integrity check: layout and sizes (rows x dim x bytes), part files against the manifest, and the sha256 of every data file', async (s, dir, json) => {
    const r = await s.verify();
    if (json) console.log(JSON.stringify({ ok: true, ...r }));
    else console.log(`store ${dir}: ${r.files} files, ${r.bytes} bytes, checksums OK`);
  });
}

function describe(mods: Record<string, { dim: number; dtype: string }>): string {
  return Object.entries(mods).map(([n, s]) => `${n} ${s.dim} ${s.dtype}`).join(', ');
}

/** A `store <name> <store> [--json]` subcommand that opens the store, runs `use` on it and closes it. */
function storeReadCommand(store: Command, name: string, description: string, use: (s: EmbeddingStore, dir: string, json: boolean) => Promise<void>): void {
  store
    .command(name)
    .description(description)
    .argument('<store>', 'store folder')
    .option('--json', 'print as JSON')
    .action((dir: string, flags: { json?: boolean }) => withStore(dir, (s) => use(s, dir, flags.json === true)));
}

/** Open the store at `dir`, run `use` on it, and close it whatever happens. */
async function withStore(dir: string, use: (s: EmbeddingStore) => Promise<void>): Promise<void> {
  const s = await openStore(dir);
  try {
    await use(s);
  } finally {
    await s.close();
  }
}
