// Who may talk to the search server: a Host allow-list (against DNS rebinding), an optional access token
// (required when the server listens beyond this machine), and the security headers of every response.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import { SailError } from '../util/errors.js';

/** Host names every server answers to (with its port): the loopback names a local browser uses. */
export const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * Sent with every response. The page has no inline script; onnxruntime-web needs 'wasm-unsafe-eval' to
 * compile its WebAssembly. Nothing may be framed, loaded from or sent to another origin.
 */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
};

/** Cookie that carries the token for requests the page cannot add a header to (images, onnxruntime files). */
export const TOKEN_COOKIE = 'sail_token';

/** Whether binding `host` keeps the server on this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** A host name as it appears in a Host header: lower case, IPv6 literals in brackets. */
function hostForm(name: string): string {
  const h = name.trim().toLowerCase();
  return isIP(h) === 6 ? `[${h}]` : h;
}

/**
 * Parse `--allowed-hosts a,b,c`: host names or IP addresses (no ports, no wildcards). Throws a SailError
 * naming the bad entry.
 */
export function parseAllowedHosts(list: string): string[] {
  const names = list.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (!names.length) throw new SailError('--allowed-hosts needs at least one host name');
  for (const n of names) {
    const bare = n.replace(/^\[|\]$/g, '');
    if (!isIP(bare) && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i.test(n))
      throw new SailError(`--allowed-hosts: ${JSON.stringify(n)} is not a host name or IP address (give names without ports)`);
  }
  return names.map((n) => hostForm(n.replace(/^\[|\]$/g, '')));
}

/**
 * The exact Host header values accepted: each name with `:port`, and the bare name on port 80 (browsers
 * omit the default port). An unspecified bind address (0.0.0.0, ::) is not a name clients use.
 */
export function allowedHostHeaders(port: number, bindHost: string, extra: string[] = []): Set<string> {
  const names = new Set([...LOOPBACK_NAMES, ...extra.map(hostForm)]);
  const bind = hostForm(bindHost);
  if (bind !== '0.0.0.0' && bind !== '[::]') names.add(bind);
  const out = new Set<string>();
  for (const n of names) {
    out.add(`${n}:${port}`);
    if (port === 80) out.add(n);
  }
  return out;
}

/** Whether the request's Host header is one of `allowed` (case-insensitive, exact). */
export function hostAllowed(req: IncomingMessage, allowed: Set<string>): boolean {
  const h = req.headers.host;
  return typeof h === 'string' && allowed.has(h.toLowerCase());
}

/** A fresh random access token (URL-safe). */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The token a request presents: `Authorization: Bearer`, `?token=` or the token cookie. */
export function presentedTokens(req: IncomingMessage, query: URLSearchParams): string[] {
  const out: string[] = [];
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^bearer /i.test(auth)) out.push(auth.slice(7).trim());
  const q = query.get('token');
  if (q !== null) out.push(q);
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === TOKEN_COOKIE) out.push(v.join('='));
  }
  return out;
}

/** Whether the request presents `token` (constant-time comparison). */
export function tokenAccepted(req: IncomingMessage, query: URLSearchParams, token: string): boolean {
  return presentedTokens(req, query).some((t) => sameToken(t, token));
}
