// Test fixtures for the data area: images made with sharp, a crafted decompression-bomb PNG, and a real
// HTTP server on 127.0.0.1 with good, bad, slow, looping and endless responses.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** A JPEG of the given size, one colour per `seed` so samples differ. */
export async function makeJpeg(width: number, height: number, seed = 0): Promise<Buffer> {
  const c = { r: (seed * 53) % 256, g: (seed * 97) % 256, b: (seed * 31) % 256 };
  return sharp({ create: { width, height, channels: 3, background: c } }).jpeg({ quality: 90 }).toBuffer();
}

/** A PNG with an alpha channel. */
export async function makePng(width: number, height: number, seed = 0): Promise<Buffer> {
  const c = { r: (seed * 17) % 256, g: 200, b: (seed * 71) % 256, alpha: 0.5 };
  return sharp({ create: { width, height, channels: 4, background: c } }).png().toBuffer();
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/**
 * A ~100-byte PNG whose IHDR declares width x height RGB pixels (e.g. 30000 x 30000 = 2.7 GB decoded)
 * with a tiny IDAT: only a decoder that trusts the header before checking it would blow up.
 */
export function craftHugePng(width = 30000, height = 30000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(Buffer.alloc(64))), pngChunk('IEND', Buffer.alloc(0))]);
}

/** A fixture server: `routes` maps a path to bytes (200 image/jpeg) or a handler. */
export interface FixtureServer {
  url: (path: string) => string;
  /** Requests seen per path. */
  hits: Map<string, number>;
  close: () => Promise<void>;
}

export type Route = Buffer | ((req: http.IncomingMessage, res: http.ServerResponse, hit: number) => void);

/** Start an HTTP server on 127.0.0.1 at a random port. `delayMs` delays every response (for kill tests). */
export async function startServer(routes: Record<string, Route>, opts: { delayMs?: number } = {}): Promise<FixtureServer> {
  const hits = new Map<string, number>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const hit = (hits.get(path) ?? 0) + 1;
    hits.set(path, hit);
    const respond = () => {
      const route = routes[path];
      if (route === undefined) { res.writeHead(404, { 'content-type': 'text/plain' }); res.end('not found'); return; }
      if (Buffer.isBuffer(route)) { res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': route.length }); res.end(route); return; }
      route(req, res, hit);
    };
    if (opts.delayMs) setTimeout(respond, opts.delayMs); else respond();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: (p) => `http://127.0.0.1:${port}${p}`,
    hits,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Handlers for the failure cases. */
export const handlers = {
  status: (code: number): Route => (_req, res) => { res.writeHead(code); res.end(`status ${code}`); },
  /** Never answers (the client must time out). */
  hang: (): Route => () => undefined,
  /** Sends headers, then one byte every `everyMs` forever (slow drip). */
  drip: (everyMs = 100): Route => (req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    res.write(Buffer.from([0xff, 0xd8, 0xff]));
    const t = setInterval(() => res.write(Buffer.from([0])), everyMs);
    const stop = () => clearInterval(t);
    res.on('close', stop);
    req.on('close', stop);
  },
  /**
   * An endless chunked body (no Content-Length): only a reader that counts bytes stops it. `sent.bytes`
   * counts what the server handed to the socket, so a test can see that the reader stopped.
   */
  endless: (sent: { bytes: number } = { bytes: 0 }): Route => (req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg' });
    const chunk = Buffer.alloc(256 * 1024, 7);
    chunk[0] = 0xff; chunk[1] = 0xd8; chunk[2] = 0xff;
    let open = true;
    res.on('close', () => { open = false; });
    const write = () => {
      sent.bytes += chunk.length;
      return res.write(chunk);
    };
    const pump = () => { while (open && write()); if (open) res.once('drain', pump); };
    pump();
  },
  /** Declares a big Content-Length. */
  bigDeclared: (bytes: number): Route => (_req, res) => { res.writeHead(200, { 'content-length': bytes }); res.end(); },
  redirect: (to: string, code = 302): Route => (_req, res) => { res.writeHead(code, { location: to }); res.end(); },
  /** 503 on the first `failures` hits, then the body. */
  flaky: (failures: number, body: Buffer): Route => (_req, res, hit) => {
    if (hit <= failures) { res.writeHead(503); res.end(); return; }
    res.writeHead(200, { 'content-type': 'image/jpeg' }); res.end(body);
  },
  body: (data: Buffer | string, type = 'image/jpeg'): Route => (_req, res) => { res.writeHead(200, { 'content-type': type }); res.end(data); },
};

/** Write a CSV with header `url,caption,alt` from rows. */
export function csvOf(rows: Array<[string, string, string?]>): string {
  const q = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  return 'url,caption,alt\n' + rows.map((r) => [r[0], r[1], r[2] ?? ''].map(q).join(',')).join('\n') + '\n';
}
