// Bounded HTTP(S) fetching for the downloader: per-request and whole-body timeouts, manual redirects with a
// limit, a maximum body size, and retries with exponential backoff for 5xx and network failures only.
// Every hop's destination is resolved and checked by net-guard.ts before any connection is opened.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isIP } from 'node:net';
import { BlockedAddressError, DEFAULT_NETWORK_POLICY, resolveChecked, type NetworkPolicy, type Resolver } from './net-guard.js';

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
export type FetchFailure = 'unsupported_url' | 'blocked_address' | 'http_error' | 'timeout' | 'network' | 'too_many_redirects' | 'too_large';

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
export async function fetchLimited(url: string, limits: FetchLimits, net: FetchNetwork = { policy: DEFAULT_NETWORK_POLICY }): Promise<FetchResult> {
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      const r = await attempt(url, limits, net);
      return { ok: true, ...r, attempts };
    } catch (err) {
      const e = err instanceof AttemptError ? err : new AttemptError('network', (err as Error).message ?? String(err), true);
      if (!e.retryable || attempts > limits.retries) return { ok: false, reason: e.reason, message: e.message, status: e.status, attempts };
      const base = limits.backoffMs * 2 ** (attempts - 1);
      await sleep(base + Math.random() * base * 0.25);
    }
  }
}

/** What a hop may connect to (see net-guard.ts). */
export interface FetchNetwork {
  policy: NetworkPolicy;
  /** Host name resolver (default: the system's); tests inject a fake one so no lookup leaves the machine. */
  resolver?: Resolver;
}

/**
 * Send one GET to the already checked address `ip` (no second DNS lookup happens: the socket connects to
 * exactly the address the guard approved). Resolves when headers arrive.
 */
function requestAt(url: URL, ip: { address: string; family: 4 | 6 }, limits: FetchLimits, signal: AbortSignal): Promise<IncomingMessage> {
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolvePromise, reject) => {
    const req = (secure ? httpsRequest : httpRequest)({
      host: ip.address,
      family: ip.family,
      port: url.port || (secure ? 443 : 80),
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      agent: false,
      signal,
      // TLS checks the certificate against the URL's name, not the IP connected to
      ...(secure && !isIP(host) ? { servername: host } : {}),
      // a lookup must never happen here; refuse loudly if Node ever tries one
      lookup: ((_h: string, _o: unknown, cb: (err: Error) => void) => cb(new BlockedAddressError('unexpected second DNS lookup'))) as never,
      headers: { host: url.host, 'user-agent': limits.userAgent, accept: 'image/*,*/*;q=0.5' },
    }, resolvePromise);
    req.on('error', reject);
    req.end();
  });
}

/** One attempt: follows redirects by hand so that each hop is counted and its address re-checked. */
async function attempt(url: string, limits: FetchLimits, net: FetchNetwork): Promise<{ body: Buffer; finalUrl: string; status: number; contentType?: string }> {
  const ctrl = new AbortController();
  let phase: 'headers' | 'body' = 'headers';
  // One timer for the whole attempt (slow drip), one reset per hop until headers arrive.
  const total = setTimeout(() => ctrl.abort(), limits.bodyTimeoutMs);
  let headerTimer: NodeJS.Timeout | undefined;
  try {
    let current = checkUrl(url);
    for (let hop = 0; ; hop++) {
      let ip: { address: string; family: 4 | 6 };
      try {
        ip = await resolveChecked(current.hostname, net.policy, net.resolver);
      } catch (err) {
        if (err instanceof BlockedAddressError) throw new AttemptError('blocked_address', `${hop ? `redirect to ${current.href.slice(0, 200)}: ` : ''}${err.message}`, false);
        const code = (err as NodeJS.ErrnoException).code;
        throw new AttemptError('network', `cannot resolve ${current.hostname}: ${code ?? (err as Error).message}`, code !== 'ENOTFOUND');
      }
      headerTimer = setTimeout(() => ctrl.abort(), limits.timeoutMs);
      let res: IncomingMessage;
      try {
        res = await requestAt(current, ip, limits, ctrl.signal);
      } catch (err) {
        if (ctrl.signal.aborted) throw new AttemptError('timeout', `no response within ${limits.timeoutMs} ms`, true);
        throw new AttemptError('network', (err as NodeJS.ErrnoException).code ?? (err as Error).message, true);
      } finally {
        clearTimeout(headerTimer);
      }
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (status >= 300 && status < 400 && location) {
        res.destroy();
        if (hop >= limits.maxRedirects) throw new AttemptError('too_many_redirects', `more than ${limits.maxRedirects} redirects`, false);
        current = checkUrl(location, current.href);
        continue;
      }
      if (status < 200 || status >= 300) {
        res.destroy();
        throw new AttemptError('http_error', `HTTP ${status}`, status >= 500, status);
      }
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > limits.maxBytes) {
        res.destroy();
        throw new AttemptError('too_large', `Content-Length ${declared} exceeds ${limits.maxBytes} bytes`, false);
      }
      phase = 'body';
      const body = await readBounded(res, limits.maxBytes);
      return { body, finalUrl: current.href, status, contentType: res.headers['content-type'] ?? undefined };
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

/** Read a body, stopping (and destroying the stream) as soon as it grows past `max` bytes. */
async function readBounded(res: IncomingMessage, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of res) {
    const value = chunk as Buffer;
    size += value.byteLength;
    if (size > max) {
      res.destroy();
      throw new AttemptError('too_large', `body exceeds ${max} bytes`, false);
    }
    parts.push(value);
  }
  return Buffer.concat(parts, size);
}
