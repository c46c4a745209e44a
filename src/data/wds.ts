// WebDataset reader: iterates samples of tar shards (members grouped by key, e.g. `000000017.jpg`,
// `000000017.txt`, `000000017.json`). Member paths and types are validated before anything is read.
import { createReadStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import tar from 'tar-stream';
import { SailError } from '../util/errors.js';

/** One sample. `shard` is the shard file path, `index` the sample's position within that shard. */
export interface WdsSample {
  key: string;
  image: Buffer;
  /** Extension of the image member without the dot (`jpg`, `png`, ...). */
  imageExt: string;
  /** `key.txt`, decoded as UTF-8. */
  text?: string;
  /** `key.json`, parsed. */
  json?: Record<string, unknown>;
  /** Every member of the sample by extension (raw bytes), including the above. */
  members: Record<string, Buffer>;
  shard: string;
  index: number;
}

/** Options of {@link readShard} / {@link readWds}. */
export interface WdsReadOptions {
  /** Largest member accepted, in bytes (default 64 MiB). */
  maxMemberBytes?: number;
  /** Skip samples with no image member instead of failing (default false). */
  skipWithoutImage?: boolean;
}

/** Image member extensions, in order of preference. */
export const WDS_IMAGE_EXTS = ['jpg', 'jpeg', 'png', 'webp'];

/** The `NNNNN.tar` shard files of a folder, sorted by name (temp files and other tars ignored). */
export async function listShards(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    throw new SailError(`cannot list shards: ${(err as Error).message}`, { file: dir });
  }
  return names.filter((n) => /^\d+\.tar$/.test(n)).sort().map((n) => join(dir, n));
}

/** Why a member name is unsafe, or undefined when it is fine. */
export function unsafeMemberName(name: string): string | undefined {
  if (name === '') return 'empty name';
  if (name.includes('\0')) return 'NUL in name';
  if (name.includes('\\')) return 'backslash in name';
  if (name.startsWith('/')) return 'absolute path';
  if (/^[A-Za-z]:/.test(name)) return 'drive-letter path';
  if (name.split('/').some((seg) => seg === '..')) return '".." in path';
  return undefined;
}

/** Split `dir/000017.seg.json` into key `dir/000017` and extension `seg.json` (WebDataset convention). */
export function splitMemberName(name: string): { key: string; ext: string } {
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot < 0) return { key: name, ext: '' };
  return { key: name.slice(0, dot), ext: name.slice(dot + 1).toLowerCase() };
}

async function readEntry(entry: AsyncIterable<Buffer>, size: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let got = 0;
  for await (const c of entry) { parts.push(c); got += c.length; }
  return Buffer.concat(parts, Math.min(got, size));
}

/**
 * Iterate the samples of one tar shard in member order. Throws a {@link SailError} naming the shard and
 * member for unsafe paths, links, devices, oversized members, bad JSON, or a key split across the file.
 */
export async function* readShard(path: string, opts: WdsReadOptions = {}): AsyncGenerator<WdsSample> {
  const maxBytes = opts.maxMemberBytes ?? 64 * 1024 * 1024;
  const extract = tar.extract();
  const src = createReadStream(path);
  const fail = (member: string, reason: string) => new SailError(`member "${member.slice(0, 200)}": ${reason}`, { file: path });
  src.on('error', (err) => extract.destroy(err));
  src.pipe(extract);
  let current: { key: string; members: Record<string, Buffer>; names: string[] } | undefined;
  const seen = new Set<string>();
  let index = 0;

  const finish = (s: NonNullable<typeof current>): WdsSample | undefined => {
    const imageExt = WDS_IMAGE_EXTS.find((e) => s.members[e] !== undefined);
    if (!imageExt) {
      if (opts.skipWithoutImage) return undefined;
      throw fail(s.names[0], `sample "${s.key}" has no image member (${WDS_IMAGE_EXTS.join('/')})`);
    }
    const sample: WdsSample = { key: s.key, image: s.members[imageExt], imageExt, members: s.members, shard: path, index: index++ };
    if (s.members.txt !== undefined) sample.text = s.members.txt.toString('utf8');
    if (s.members.json !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(s.members.json.toString('utf8'));
      } catch (err) {
        throw fail(`${s.key}.json`, `bad JSON (${(err as Error).message})`);
      }
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw fail(`${s.key}.json`, 'JSON is not an object');
      sample.json = parsed as Record<string, unknown>;
    }
    return sample;
  };

  try {
    for await (const entry of extract) {
      const h = entry.header;
      const name = h.name;
      const bad = unsafeMemberName(name);
      if (bad) throw fail(name, bad);
      if (h.type === 'directory') { entry.resume(); continue; }
      if (h.type !== 'file' && h.type !== 'contiguous-file') throw fail(name, `${h.type ?? 'unknown'} members are not allowed`);
      const size = h.size ?? 0;
      if (size > maxBytes) throw fail(name, `${size} bytes exceeds the ${maxBytes}-byte member limit`);
      // `tar -cf x.tar ./...` prefixes every member with "./"; it is not part of the key.
      const { key, ext } = splitMemberName(name.replace(/^(\.\/)+/, ''));
      if (!key || key.endsWith('/')) throw fail(name, 'member has no sample key');
      const data = await readEntry(entry as AsyncIterable<Buffer>, size);
      if (current && current.key !== key) {
        const s = finish(current);
        current = undefined;
        if (s) yield s;
      }
      if (!current) {
        if (seen.has(key)) throw fail(name, `sample "${key}" appears again after other samples (members of a sample must be adjacent)`);
        seen.add(key);
        // no prototype: a member named `x.constructor` or `x.__proto__` is just another extension
        current = { key, members: Object.create(null) as Record<string, Buffer>, names: [] };
      }
      if (current.members[ext] !== undefined) throw fail(name, 'duplicate member');
      current.members[ext] = data;
      current.names.push(name);
    }
    if (current) { const s = finish(current); if (s) yield s; }
  } catch (err) {
    if (err instanceof SailError) throw err;
    throw new SailError(`not a readable tar: ${(err as Error).message}`, { file: path });
  } finally {
    src.destroy();
    extract.destroy();
  }
}

/** Iterate samples of several shards (or every shard of a folder) in order. */
export async function* readWds(shards: string | string[], opts: WdsReadOptions = {}): AsyncGenerator<WdsSample> {
  let list: string[];
  if (Array.isArray(shards)) list = shards;
  else {
    const st = await fs.stat(shards).catch(() => undefined);
    if (!st) throw new SailError('no such file or folder', { file: shards });
    list = st.isDirectory() ? await listShards(shards) : [shards];
  }
  for (const p of list) yield* readShard(p, opts);
}
