// Bounded HTTP(S) fetching for the downloader: per-request and whole-body timeouts, manual redirects with a
// limit, a maximum body size, and retries with exponential backoff for 5xx and network failures only.

/** Limits of one fetch. Times are in milliseconds. */
export interface FetchLimits {
  /** Time allowed until response headers arrive, per attempt. */
  timeoutMs: number;
  /** Time allowed for the whole attempt, headers and body (guards against slow-drip servers). */
  bodyTimeoutMs: number;
  /** Extra attempts after a 5xx, timeout or network error. 4xx responses are never retried. */
  retries: number;
  /** First backoff delay; doubles on each retry (with up to 25% jitter). */
  backoffMs: number;
  /** Most redirects followed. */
  maxRedirects: number;
  /** Largest body accepted, in bytes (checked against Content-Length and while reading). */
  maxBytes: number;
  /** User-Agent header. */
  userAgent: string;
}

/** Defaults suited to crawling public image URLs. */
export const DEFAULT_FETCH_LIMITS: FetchLimits = {
  timeoutMs: 10_000,
  bodyTimeoutMs: 30_000,
  retries: 2,
  backoffMs: 500,
  maxRedirects: 5,
  maxBytes: 20 * 1024 * 1024,
  userAgent: 'sail-download/0.1 (+image-text dataset builder)',
};

/** Why a fetch failed. */
export type FetchFailure = 'unsupported_url' | 'http_error' | 'timeout' | 'network' | 'too_many_redirects' | 'too_large';

/** Outcome of {@link fetchLimited}. */
export type FetchResult =
  | { ok: true; body: Buffer; finalUrl: string; status: number; contentType?: string; attempts: number }
  | { ok: false; reason: FetchFailure; message: string; status?: number; attempts: number };

class AttemptError extends Error {
  constructor(readonly reason: FetchFailure, message: string, readonly retryable: boolean, readonly status?: number) {
    super(message);
  }
}

function checkUrl(raw: string, base?: string): URL {
  let u: URL;
  try {
    u = base === undefined ? new URL(raw) : new URL(raw, base);
  } catch {
    throw new AttemptError('unsupported_url', `not a valid URL: ${raw.slice(0, 200)}`, false);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new AttemptError('unsupported_url', `unsupported scheme ${u.protocol}`, false);
  return u;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Fetch one URL into memory under the given limits. Never throws: failures come back as
 * `{ ok: false, reason }`.
 */
export async function fetchLimited(url: string, limits: FetchLimits): Promise<FetchResult> {
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      const r = await attempt(url, limits);
      return { ok: true, ...r, attempts };
    } catch (err) {
      const e = err instanceof AttemptError ? err : new AttemptError('network', (err as Error).message ?? String(err), true);
      if (!e.retryable || attempts > limits.retries) return { ok: false, reason: e.reason, message: e.message, status: e.status, attempts };
      const base = limits.backoffMs * 2 ** (attempts - 1);
      await sleep(base + Math.random() * base * 0.25);
    }
  }
}

/** One attempt: follows redirects by hand so that each hop is counted and re-checked. */
async function attempt(url: string, limits: FetchLimits): Promise<{ body: Buffer; finalUrl: string; status: number; contentType?: string }> {
  const ctrl = new AbortController();
  let phase: 'headers' | 'body' = 'headers';
  // One timer for the whole attempt (slow drip), one reset per hop until headers arrive.
  const total = setTimeout(() => ctrl.abort(), limits.bodyTimeoutMs);
  let headerTimer: NodeJS.Timeout | undefined;
  try {
    let current = checkUrl(url);
    for (let hop = 0; ; hop++) {
      headerTimer = setTimeout(() => ctrl.abort(), limits.timeoutMs);
      let res: Response;
      try {
        res = await fetch(current, {
          redirect: 'manual',
          signal: ctrl.signal,
          headers: { 'user-agent': limits.userAgent, accept: 'image/*,*/*;q=0.5' },
        });
      } catch (err) {
        if (ctrl.signal.aborted) throw new AttemptError('timeout', `no response within ${limits.timeoutMs} ms`, true);
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        throw new AttemptError('network', cause?.code ?? cause?.message ?? (err as Error).message, true);
      } finally {
        clearTimeout(headerTimer);
      }
      if (res.status >= 300 && res.status < 400 && res.headers.has('location')) {
        await res.body?.cancel().catch(() => undefined);
        if (hop >= limits.maxRedirects) throw new AttemptError('too_many_redirects', `more than ${limits.maxRedirects} redirects`, false);
        current = checkUrl(res.headers.get('location')!, current.href);
        continue;
      }
      if (res.status < 200 || res.status >= 300) {
        await res.body?.cancel().catch(() => undefined);
        throw new AttemptError('http_error', `HTTP ${res.status}`, res.status >= 500, res.status);
      }
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        await res.body?.cancel().catch(() => undefined);
        throw new AttemptError('too_large', `Content-Length ${declared} exceeds ${limits.maxBytes} bytes`, false);
      }
      phase = 'body';
      const body = await readBounded(res, limits.maxBytes);
      return { body, finalUrl: current.href, status: res.status, contentType: res.headers.get('content-type') ?? undefined };
    }
  } catch (err) {
    if (err instanceof AttemptError) throw err;
    if (ctrl.signal.aborted) {
      throw new AttemptError('timeout', phase === 'body' ? `body not complete within ${limits.bodyTimeoutMs} ms` : `no response within ${limits.timeoutMs} ms`, true);
    }
    throw new AttemptError('network', (err as Error).message, true);
  } finally {
    clearTimeout(total);
    clearTimeout(headerTimer);
  }
}

/** Read a body, stopping (and cancelling the stream) as soon as it grows past `max` bytes. */
async function readBounded(res: Response, max: number): Promise<Buffer> {
  if (!res.body) return Buffer.alloc(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel().catch(() => undefined);
      throw new AttemptError('too_large', `body exceeds ${max} bytes`, false);
    }
    parts.push(value);
  }
  return Buffer.concat(parts, size);
}
