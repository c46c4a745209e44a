// WebDataset tar shards as encode rows: consecutive members sharing a key (`dir/key.jpg`, `dir/key.txt`,
// `dir/key.json`) form one sample. Member paths are validated and member sizes bounded.
import { createReadStream } from 'node:fs';
import { extract as tarExtract } from 'tar-stream';
import { SailError } from '../util/errors.js';
import type { SourceRow, CaptionSpec } from './sources.js';

/** Image member extensions recognised in a sample. */
export const TAR_IMAGE_EXTS = ['jpg', 'jpeg', 'png', 'webp'];
/** Largest member read into memory (a larger one makes its sample an error row). */
export const MAX_MEMBER_BYTES = 64 * 1024 * 1024;

interface Sample {
  key: string;
  members: Map<string, Buffer>;
  problems: string[];
}

/** WebDataset key and extension: the basename splits at its first dot (`a/b.seg.png` -> `a/b`, `seg.png`). */
export function splitMember(name: string): { key: string; ext: string } | undefined {
  const slash = name.lastIndexOf('/');
  const base = name.slice(slash + 1);
  const dot = base.indexOf('.');
  if (dot <= 0) return undefined;
  return { key: name.slice(0, slash + 1) + base.slice(0, dot), ext: base.slice(dot + 1).toLowerCase() };
}

/** Reject absolute paths, `..` segments and control characters in member names. */
export function checkMemberPath(name: string): string | undefined {
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) return 'absolute member path';
  if (name.split('/').some((s) => s === '..')) return "member path contains '..'";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(name)) return 'control character in member path';
  return undefined;
}

function sampleToRow(s: Sample, row: number, shard: string, captions: CaptionSpec[], wantImage: boolean): SourceRow {
  const file = `${shard}:${s.key}`;
  const texts: Record<string, string | undefined> = {};
  let json: Record<string, unknown> | undefined;
  const problems = [...s.problems];
  const jsonBytes = s.members.get('json');
  if (jsonBytes) {
    try {
      json = JSON.parse(jsonBytes.toString('utf8')) as Record<string, unknown>;
    } catch {
      problems.push('invalid key.json');
    }
  }
  for (const c of captions) {
    const member = s.members.get(c.column);
    if (member) texts[c.modality] = member.toString('utf8').trim();
    else if (json && typeof json[c.column] === 'string') texts[c.modality] = json[c.column] as string;
    else problems.push(`no caption '${c.column}' (neither ${s.key}.${c.column} nor a "${c.column}" field in ${s.key}.json)`);
  }
  const imgExt = TAR_IMAGE_EXTS.find((e) => s.members.has(e));
  const image = imgExt ? s.members.get(imgExt) : undefined;
  if (!image && wantImage) problems.push(`no image member (${TAR_IMAGE_EXTS.map((e) => s.key + '.' + e).join(', ')})`);
  return { row, file, image, texts, error: problems.length ? problems.join('; ') : undefined };
}

/**
 * Stream the samples of `shards` (in the given order) as rows numbered from 0. Bodies of members that
 * are not needed (unknown extensions) are drained without buffering.
 */
export async function* tarRows(shards: string[], captions: CaptionSpec[], wantImage: boolean): AsyncGenerator<SourceRow> {
  let row = 0;
  const needed = new Set<string>([...TAR_IMAGE_EXTS, 'json', ...captions.map((c) => c.column)]);
  for (const shard of shards) {
    const ex = tarExtract();
    const input = createReadStream(shard);
    input.on('error', (err) => ex.destroy(err));
    input.pipe(ex);
    let cur: Sample | undefined;
    try {
      for await (const entry of ex) {
        const h = entry.header;
        const bad = checkMemberPath(h.name);
        if (bad) throw new SailError(`${bad}: ${JSON.stringify(h.name)}`, { file: shard });
        const parts = h.type === 'file' || h.type === 'contiguous-file' ? splitMember(h.name) : undefined;
        if (!parts) {
          entry.resume();
          continue;
        }
        if (!cur || cur.key !== parts.key) {
          if (cur) yield sampleToRow(cur, row++, shard, captions, wantImage);
          cur = { key: parts.key, members: new Map(), problems: [] };
        }
        const size = h.size ?? 0;
        if (!needed.has(parts.ext) || (!wantImage && TAR_IMAGE_EXTS.includes(parts.ext))) {
          entry.resume();
          continue;
        }
        if (size > MAX_MEMBER_BYTES) {
          cur.problems.push(`${h.name} is ${size} bytes (limit ${MAX_MEMBER_BYTES})`);
          entry.resume();
          continue;
        }
        const bufs: Buffer[] = [];
        for await (const chunk of entry) bufs.push(Buffer.from(chunk as Uint8Array));
        cur.members.set(parts.ext, Buffer.concat(bufs));
      }
    } catch (err) {
      if (err instanceof SailError) throw err;
      throw new SailError(`cannot read tar shard: ${(err as Error).message}`, { file: shard });
    }
    if (cur) yield sampleToRow(cur, row++, shard, captions, wantImage);
  }
}
