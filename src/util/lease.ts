// Lease locks on output folders. One process (or one `--shard i/n` slot) owns a lock file that names its
// host, pid and a heartbeat time it refreshes while working. Pods of one Kubernetes Job share a volume
// but not a process table, so a lock is stale when its holder is on this host and its pid is dead, or
// when its heartbeat is older than the stale timeout (hosts need roughly synchronised clocks).
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, unlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { SailError } from './errors.js';

/** Default heartbeat interval. */
export const LEASE_HEARTBEAT_MS = 15_000;
/** Default age of a heartbeat after which a lock counts as abandoned (8 missed heartbeats). */
export const LEASE_STALE_MS = 120_000;

/** What a lock file holds. */
export interface LeaseInfo {
  host: string;
  pid: number;
  /** What holds it, e.g. `sail train` or `sail download --shard 1/4`. */
  purpose: string;
  /** ISO time the lock was taken. */
  since: string;
  /** ISO time of the latest heartbeat. */
  heartbeat: string;
  /** Random id telling this holder from a later one with the same host and pid. */
  token: string;
  /** Free-form label of what the holder works on (e.g. a fingerprint of its input). */
  tag?: string;
}

/** Options of {@link acquireLease}. */
export interface LeaseOptions {
  /** Shown to a second process in its error message. */
  purpose: string;
  /** Heartbeat age that makes a lock stale (default {@link LEASE_STALE_MS}). */
  staleMs?: number;
  /** Heartbeat interval (default {@link LEASE_HEARTBEAT_MS}). */
  heartbeatMs?: number;
  /** Wait up to this long for a busy lock instead of failing at once (for short critical sections). */
  waitMs?: number;
  /** Recorded as {@link LeaseInfo.tag}. */
  tag?: string;
}

/** A held lock. */
export interface Lease {
  readonly path: string;
  readonly info: LeaseInfo;
  /** Throws a SailError when another process has taken the lock over (this one was thought dead). */
  check(): Promise<void>;
  /** Stop the heartbeat and remove the lock file if it is still ours. */
  release(): Promise<void>;
}

/** Whether process `pid` exists on this machine (EPERM: it exists but belongs to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readInfo(path: string): Promise<LeaseInfo | undefined> {
  try {
    const v = JSON.parse(await fs.readFile(path, 'utf8')) as Partial<LeaseInfo>;
    if (typeof v.host !== 'string' || typeof v.pid !== 'number' || typeof v.heartbeat !== 'string' || typeof v.token !== 'string') return undefined;
    return v as LeaseInfo;
  } catch {
    return undefined;
  }
}

/** Why the lock described by `info` (or an unreadable lock file with this mtime) is stale, or undefined. */
export function staleReason(info: LeaseInfo | undefined, mtimeMs: number, staleMs: number, now = Date.now()): string | undefined {
  if (!info) return now - mtimeMs > staleMs ? 'unreadable lock file older than the stale timeout' : undefined;
  if (info.host === hostname() && info.pid !== process.pid && !isAlive(info.pid)) return `pid ${info.pid} on this host is dead`;
  const beat = Date.parse(info.heartbeat);
  if (!Number.isFinite(beat) || now - beat > staleMs) return `heartbeat ${info.heartbeat} is older than ${Math.round(staleMs / 1000)} s`;
  return undefined;
}

/** `locked by <host> pid <pid> since <time> (<purpose>)`. */
export function describeHolder(info: LeaseInfo | undefined): string {
  if (!info) return 'locked by a process whose lock file is unreadable';
  return `locked by ${info.host} pid ${info.pid} since ${info.since} (${info.purpose})`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Create `path` holding `text` only if it does not exist: link() of a complete temp file is atomic. */
async function createExclusive(path: string, text: string): Promise<boolean> {
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, text);
  try {
    await fs.link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Remove a stale lock, but only under a short takeover guard (a directory, created atomically) and only if
 * the lock still holds the very content judged stale, so two contenders cannot both take it over.
 */
async function removeStale(path: string, judged: string | undefined): Promise<void> {
  const guard = `${path}.takeover`;
  try {
    await fs.mkdir(guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // a guard left by a process killed mid-takeover is itself stale after a few seconds
    const st = await fs.stat(guard).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs > 10_000) await fs.rmdir(guard).catch(() => undefined);
    return;
  }
  try {
    const now = await fs.readFile(path, 'utf8').catch(() => undefined);
    if (now === judged) await fs.rm(path, { force: true });
  } finally {
    await fs.rmdir(guard).catch(() => undefined);
  }
}

/** The create-or-take-over loop of {@link acquireLease}. */
async function takeLock(path: string, info: LeaseInfo, staleMs: number, deadline: number): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    info.heartbeat = new Date().toISOString();
    if (await createExclusive(path, JSON.stringify(info) + '\n')) return;
    const text = await fs.readFile(path, 'utf8').catch(() => undefined);
    if (text === undefined && attempt < 50) continue; // released meanwhile: try again
    const st = await fs.stat(path).catch(() => undefined);
    const holder = await readInfo(path);
    if (staleReason(holder, st?.mtimeMs ?? 0, staleMs) !== undefined) {
      await removeStale(path, text);
      if (attempt < 20) { await sleep(10 * attempt); continue; }
    }
    if (Date.now() < deadline) { await sleep(50); continue; }
    throw new SailError(describeHolder(holder), { file: path });
  }
}

/**
 * Take the lock file `path` or throw a SailError naming the holder (`<path>: locked by <host> pid <pid>
 * since <time>`). A stale lock is taken over. With `waitMs`, a busy lock is retried until then.
 */
export async function acquireLease(path: string, opts: LeaseOptions): Promise<Lease> {
  const staleMs = opts.staleMs ?? LEASE_STALE_MS;
  const heartbeatMs = opts.heartbeatMs ?? LEASE_HEARTBEAT_MS;
  const since = new Date().toISOString();
  const info: LeaseInfo = { host: hostname(), pid: process.pid, purpose: opts.purpose, since, heartbeat: since, token: randomBytes(8).toString('hex'), ...(opts.tag !== undefined ? { tag: opts.tag } : {}) };
  // registered before the lock file can appear, so a SIGTERM right after it does still removes it
  held.set(info.token, path);
  if (held.size === 1) process.on('SIGTERM', releaseAllOnTerm);
  const forget = () => {
    held.delete(info.token);
    if (held.size === 0) process.off('SIGTERM', releaseAllOnTerm);
  };
  try {
    await takeLock(path, info, staleMs, Date.now() + (opts.waitMs ?? 0));
  } catch (err) {
    forget();
    throw err;
  }
  let lost: LeaseInfo | undefined;
  let stopped = false;
  const beat = async () => {
    const now = await readInfo(path);
    if (now?.token !== info.token) { lost = now; return; }
    info.heartbeat = new Date().toISOString();
    const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
    await fs.writeFile(tmp, JSON.stringify(info) + '\n');
    await fs.rename(tmp, path).catch(async () => { await fs.rm(tmp, { force: true }); });
  };
  let chain = Promise.resolve();
  const timer = setInterval(() => { if (!stopped && !lost) chain = chain.then(beat).catch(() => undefined); }, heartbeatMs);
  timer.unref(); // never keeps the process alive on its own
  return {
    path,
    info,
    async check() {
      if (lost) throw new SailError(`lost the lock: it was taken over (${describeHolder(lost)}) after this process stopped refreshing it`, { file: path });
    },
    async release() {
      stopped = true;
      clearInterval(timer);
      forget();
      await chain;
      const now = await readInfo(path);
      if (now?.token === info.token) await fs.rm(path, { force: true });
    },
  };
}

/** Lock files this process holds or is taking (token -> path), removed at once on SIGTERM. */
const held = new Map<string, string>();

/**
 * SIGTERM (Kubernetes eviction, `kubectl delete`, `docker stop`): remove our lock files synchronously, so a
 * replacement pod on another host need not wait for the heartbeat timeout, then die of the signal as
 * before. SIGKILL and crashes leave the lock to the stale rules.
 */
function releaseAllOnTerm(): void {
  for (const [token, path] of held) {
    try {
      if ((JSON.parse(readFileSync(path, 'utf8')) as Partial<LeaseInfo>).token === token) unlinkSync(path);
    } catch {
      // already gone or unreadable: nothing of ours to remove
    }
  }
  held.clear();
  process.off('SIGTERM', releaseAllOnTerm);
  // with no other SIGTERM handler, end the way an unhandled SIGTERM does
  if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM');
}

/** Run `fn` while holding the lock file `path`; the lock is released however `fn` ends. */
export async function withLease<T>(path: string, opts: LeaseOptions, fn: (lease: Lease) => Promise<T>): Promise<T> {
  const lease = await acquireLease(path, opts);
  try {
    return await fn(lease);
  } finally {
    await lease.release();
  }
}

/** Create an output folder, with one clear line when the path is taken by a file. Returns the first folder created. */
async function makeFolder(dir: string): Promise<string | undefined> {
  try {
    return await fs.mkdir(dir, { recursive: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTDIR') throw new SailError('output path exists and is not a folder', { file: dir });
    throw err;
  }
}

/** Lock file that makes one process the only writer of a whole output folder (`train`, `store import`). */
export const FOLDER_LOCK = '.sail.lock';

/** Take the exclusive lock of an output folder (created if missing). */
export async function lockFolder(dir: string, purpose: string, opts: Omit<LeaseOptions, 'purpose'> = {}): Promise<Lease> {
  const created = await makeFolder(dir);
  const lease = await acquireLease(join(dir, FOLDER_LOCK), { ...opts, purpose }).catch(async (err: unknown) => {
    if (created) await removeEmpty(dir, created);
    throw err;
  });
  if (!created) return lease;
  // a run that failed before writing anything leaves no empty folder behind
  return { ...lease, release: async () => { await lease.release(); await removeEmpty(dir, created); } };
}

/** Remove `dir` and its parents up to `top` while they are empty. */
async function removeEmpty(dir: string, top: string): Promise<void> {
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      await fs.rmdir(d);
    } catch {
      return;
    }
    if (d === resolve(top) || dirname(d) === d) return;
  }
}

/** A `--shard i/n` work split. */
export interface SlotSplit {
  index: number;
  count: number;
}

/** Whether slots i/n and j/m share a shard: k = i mod n and k = j mod m has a solution iff i = j mod gcd. */
export function slotsOverlap(a: SlotSplit, b: SlotSplit): boolean {
  const gcd = (x: number, y: number): number => (y === 0 ? x : gcd(y, x % y));
  const g = gcd(a.count, b.count);
  return a.index % g === b.index % g;
}

const SLOT_LOCK = /^\.sail-slot-(\d+)-of-(\d+)\.lock$/;

/** Lock file name of slot i/n. */
function slotLockName(s: SlotSplit): string {
  return `.sail-slot-${s.index}-of-${s.count}.lock`;
}

/** Live (not stale) slot locks of `dir` other than `own`'s, with their slots. */
export async function otherLiveSlots(dir: string, own: SlotSplit, staleMs = LEASE_STALE_MS): Promise<Array<{ path: string; split: SlotSplit; holder: LeaseInfo | undefined }>> {
  const out: Array<{ path: string; split: SlotSplit; holder: LeaseInfo | undefined }> = [];
  for (const name of await fs.readdir(dir)) {
    const m = SLOT_LOCK.exec(name);
    if (!m || name === slotLockName(own)) continue;
    const path = join(dir, name);
    const st = await fs.stat(path).catch(() => undefined);
    if (!st) continue;
    const holder = await readInfo(path);
    if (staleReason(holder, st.mtimeMs, staleMs) === undefined) out.push({ path, split: { index: Number(m[1]), count: Number(m[2]) }, holder });
  }
  return out;
}

/**
 * Lock one `--shard i/n` slot of a folder that several workers share (download, data import, encode).
 * Identical slots refuse each other; so do running slots of a different split that would write the same
 * shards (0/2 and 0/4 both own shard 4). Different slots of one split run side by side.
 */
export async function lockSlot(dir: string, split: SlotSplit | undefined, purpose: string, opts: Omit<LeaseOptions, 'purpose'> = {}): Promise<Lease> {
  const s = split ?? { index: 0, count: 1 };
  await makeFolder(dir);
  const lease = await acquireLease(join(dir, slotLockName(s)), { ...opts, purpose });
  try {
    // Take ours first, then look at the others: two overlapping workers starting together both see each other.
    for (const other of await otherLiveSlots(dir, s, opts.staleMs)) {
      if (!slotsOverlap(s, other.split)) continue;
      throw new SailError(`--shard ${s.index}/${s.count} overlaps --shard ${other.split.index}/${other.split.count}, ${describeHolder(other.holder)}`, { file: other.path });
    }
  } catch (err) {
    await lease.release();
    throw err;
  }
  return lease;
}
