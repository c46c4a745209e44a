// `dataset.json` of a shard folder: what the folder holds (shard size, and the identity of its input such
// as the URL list's content hash). A rerun with the same identity resumes; a different one is refused,
// or with `overwrite` the folder's shard files are cleared first, so rows of two inputs never mix.
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic } from '../util/atomic.js';
import { SailError } from '../util/errors.js';
import { describeHolder, otherLiveSlots, withLease, type SlotSplit } from '../util/lease.js';

/** Lock around reading/rewriting `dataset.json` (held for milliseconds, so contenders wait for it). */
export const DATASET_LOCK = '.sail-dataset.lock';

/** What a run wants the folder to be. */
export interface DatasetWanted {
  shardSize: number;
  /** Recorded as is; `identity` (when given) must match for a resume. */
  meta: Record<string, unknown>;
  identity?: Record<string, unknown>;
  /** Replace a folder holding a different dataset. */
  overwrite?: boolean;
  /** The caller's slot, whose lease is tagged with {@link identityTag}, to tell old workers from new ones. */
  split?: SlotSplit;
}

/** Files this tool writes into a shard folder; --overwrite removes these and nothing else. */
const OWN_FILES = [/^\d+\.tar$/, /^\d+\.status\.jsonl$/, /^\.\d+\.(tar|status\.jsonl)\..*\.tmp$/, /^summary\.json$/, /^dataset\.json$/];

/** A short, stable fingerprint of an identity record. */
export function identityTag(identity: Record<string, unknown> | undefined): string | undefined {
  return identity === undefined ? undefined : JSON.stringify(identity);
}

async function clearShards(dir: string): Promise<number> {
  let n = 0;
  for (const name of await fs.readdir(dir)) {
    if (!OWN_FILES.some((re) => re.test(name))) continue;
    await fs.rm(join(dir, name), { force: true });
    n++;
  }
  return n;
}

function describeIdentity(id: unknown, input: unknown): string {
  if (!id || typeof id !== 'object') return 'no recorded input fingerprint (written by an older sail)';
  const list = (id as { list?: { sha256?: string } }).list;
  const from = typeof input === 'string' ? ` ${input}` : '';
  return list?.sha256 ? `list${from} (sha256 ${list.sha256.slice(0, 12)}...)` : JSON.stringify(id).slice(0, 200);
}

/** Names of the identity fields that differ (`list, image`). */
function differingFields(had: unknown, want: Record<string, unknown> | undefined): string {
  if (!had || typeof had !== 'object' || !want) return 'input fingerprint';
  const a = had as Record<string, unknown>;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(want)])];
  return keys.filter((k) => JSON.stringify(a[k]) !== JSON.stringify(want[k])).join(', ') || 'input fingerprint';
}

/**
 * Check (or create) `dir/dataset.json` under the folder's dataset lock. Throws a SailError naming the file
 * when the folder holds another shard size or another input, unless `overwrite` (then the old shard files
 * are removed, provided no worker of the old input is still running).
 */
export async function checkDatasetConfig(dir: string, want: DatasetWanted): Promise<void> {
  const path = join(dir, 'dataset.json');
  await withLease(join(dir, DATASET_LOCK), { purpose: 'checking dataset.json', waitMs: 30_000 }, async () => {
    let existing: { shardSize?: unknown; identity?: unknown; input?: unknown } | undefined;
    try {
      existing = JSON.parse(await fs.readFile(path, 'utf8'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new SailError(`unreadable dataset.json: ${(err as Error).message}`, { file: path });
    }
    const fresh = { format: 'sail-wds', version: 1, shardSize: want.shardSize, ...want.meta, ...(want.identity ? { identity: want.identity } : {}) };
    if (!existing) { await writeJsonAtomic(path, fresh); return; }
    const sameSize = existing.shardSize === want.shardSize;
    const sameInput = want.identity === undefined || JSON.stringify(existing.identity) === JSON.stringify(want.identity);
    if (sameSize && sameInput) {
      // same content from another path (a moved or copied list): name the file this run read
      if (want.identity !== undefined && (existing as Record<string, unknown>).input !== want.meta.input) await writeJsonAtomic(path, fresh);
      return;
    }
    if (!want.overwrite) {
      if (!sameSize) throw new SailError(`output was written with shard size ${String(existing.shardSize)}, not ${want.shardSize}; use the same --shard-size, --overwrite to replace it, or a new output folder`, { file: path });
      throw new SailError(`output holds shards of a different input (${differingFields(existing.identity, want.identity)} differ): ${describeIdentity(existing.identity, existing.input)}, not ${describeIdentity(want.identity, want.meta.input)}; rerun with the same list to resume, --overwrite to replace it, or use a new output folder`, { file: path });
    }
    // Workers still writing the old input would mix it into the new one: they must finish or die first.
    const tag = identityTag(want.identity);
    for (const other of await otherLiveSlots(dir, want.split ?? { index: 0, count: 1 })) {
      if (other.holder?.tag === undefined || other.holder.tag !== tag) {
        throw new SailError(`cannot --overwrite while a worker of the old output runs: ${describeHolder(other.holder)}`, { file: other.path });
      }
    }
    await clearShards(dir);
    await writeJsonAtomic(path, fresh);
  });
}
