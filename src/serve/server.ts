// HTTP server for browser image search over a local folder (127.0.0.1 by default).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, extname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { SailError } from '../util/errors.js';
import { loadExportedModel, type ExportedModel } from '../model/exported.js';
import type { ImageEncoder, TextEncoder } from '../encoders/types.js';
import { loadImageEncoder, loadTextEncoder } from '../encoders/registry.js';
import { buildImageIndex, type ImageIndex } from './image-index.js';
import type { IvfOptions } from './ivf.js';
import { APP_JS, PAGE_HTML } from './page.js';
import { allowedHostHeaders, hostAllowed, isLoopbackHost, newToken, SECURITY_HEADERS, TOKEN_COOKIE, tokenAccepted } from './guard.js';
import { openInside } from '../data/confine.js';

export interface ServeOptions extends IvfOptions {
  /** Export folder written by `sail export`. */
  modelDir: string;
  /** Folder of images to index. */
  imagesDir: string;
  /** 0..65535; 0 = any free port. */
  port?: number;
  /** Default 127.0.0.1; anything else exposes the folder to the network (needs `allowedHosts`, gets a token). */
  host?: string;
  /**
   * Host names clients use to reach a non-loopback bind (the Host header must match one of them, or a
   * loopback name, on the server's port). Required when `host` is not a loopback address.
   */
  allowedHosts?: string[];
  /**
   * Access token every request must present (`?token=` once in the browser, then a cookie and the
   * page's Authorization header). true = generate one. Default: generated when `host` is not loopback.
   */
  token?: string | boolean;
  /** Image backbone used with image_head.onnx when the export has no fused image_model.onnx. */
  imageEncoder?: ImageEncoder;
  /** Text backbone for the /api/embed-text fallback (used with text_head.onnx). */
  textEncoder?: TextEncoder;
  /**
   * Load the backbones recorded in sail_model.json when the export lacks a fused image model or a
   * browser-runnable text model and no encoder was given (default true).
   */
  loadBackbones?: boolean;
  maxImages?: number;
  /** Probed inverted lists per query (IVF only). */
  nprobe?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface RunningServer {
  /** Base URL; with `?token=...` when a token is required (the URL to open). */
  url: string;
  /** Where search queries are embedded: 'browser' (text_model.onnx in the page) or 'server' (a text backbone here). */
  queries: 'browser' | 'server';
  /** The text backbone embedding queries on the server (its id), when queries are embedded here. */
  serverTextModel?: string;
  /** The access token, when one is required. */
  token?: string;
  /** Resolves when the image index is built (rejects if indexing fails). */
  ready: Promise<ImageIndex>;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif',
  '.avif': 'image/avif', '.tif': 'image/tiff', '.tiff': 'image/tiff', '.json': 'application/json', '.onnx': 'application/octet-stream',
  '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm',
};
const MAX_BODY = 1 << 20;
const MAX_K = 200;

/** onnxruntime-web's dist folder, found from the installed package (never via a user path). */
export function ortWebDist(): string {
  const req = createRequire(import.meta.url);
  let dir = dirname(req.resolve('onnxruntime-web'));
  while (!existsSync(join(dir, 'package.json')) || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== 'onnxruntime-web') {
    const up = dirname(dir);
    if (up === dir) throw new SailError('onnxruntime-web is not installed');
    dir = up;
  }
  return join(dir, 'dist');
}

function send(res: ServerResponse, code: number, body: string | Buffer, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}): void {
  res.writeHead(code, { ...SECURITY_HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
  res.end(body);
}
const json = (res: ServerResponse, code: number, v: unknown) => send(res, code, JSON.stringify(v), 'application/json');
const notFound = (res: ServerResponse) => json(res, 404, { error: 'not found' });

/**
 * Send `file` if, at this moment, it resolves inside `root` (a realpath); 404 otherwise. Checked when
 * sent, not only when indexed: a file or folder swapped for a symlink after start-up must not lead out.
 */
async function sendFile(res: ServerResponse, file: string, root: string): Promise<void> {
  const got = await openInside(root, file, file);
  if (!got.ok) return notFound(res);
  res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream', 'content-length': got.size });
  got.handle.createReadStream().on('error', () => res.destroy()).pipe(res);
}

/** Split a raw request target into its path (percent-decoded) and query; undefined when malformed. */
function parseTarget(raw: string): { path: string; query: URLSearchParams } | undefined {
  const q = raw.indexOf('?');
  const rawPath = q >= 0 ? raw.slice(0, q) : raw;
  if (!rawPath.startsWith('/')) return undefined;
  try {
    const path = decodeURIComponent(rawPath);
    return path.includes('\0') ? undefined : { path, query: new URLSearchParams(q >= 0 ? raw.slice(q + 1) : '') };
  } catch {
    return undefined; // malformed percent-encoding such as %E0%A4%A or %zz
  }
}

/** Throw a SailError unless `port` is an integer 0..65535 (`given`: the flag text, for the message). */
export function checkPort(port: number | undefined, given: string = String(port)): void {
  if (port !== undefined && !(given.trim() !== '' && Number.isInteger(port) && port >= 0 && port <= 65535))
    throw new SailError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(given)}`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new SailError('request body too large');
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The encoders the server needs beyond the export: an image backbone when there is no image_model.onnx,
 * a text backbone when the page cannot embed queries itself. Given ones win; otherwise the ids recorded
 * in sail_model.json are loaded. Fails with the flag to pass when one is needed and cannot be loaded,
 * so a server that cannot answer queries never starts.
 */
async function backbonesFor(model: ExportedModel, opts: ServeOptions): Promise<{ imageEncoder?: ImageEncoder; textEncoder?: TextEncoder; owned: { dispose(): Promise<void> }[] }> {
  const m = model.manifest;
  const owned: { dispose(): Promise<void> }[] = [];
  const auto = opts.loadBackbones ?? true;
  let imageEncoder = opts.imageEncoder;
  let textEncoder = opts.textEncoder;
  if (!model.hasImageModel && !imageEncoder) {
    const id = m.backbones.image.id;
    if (!auto) throw new SailError(`the export has no image_model.onnx: pass --vision-model (its image backbone is ${id}) or re-export with --vision-backbone`, { file: model.dir });
    try {
      imageEncoder = await loadImageEncoder(id);
      owned.push(imageEncoder);
    } catch (e) {
      throw new SailError(`the export has no image_model.onnx and its image backbone '${id}' could not be loaded (${(e as Error).message}): pass --vision-model NAME|DIR, or re-export with --vision-backbone`, { file: model.dir });
    }
  }
  if (!m.text.model?.tokenizer && !textEncoder) {
    const id = m.backbones.text.id;
    const why = 'queries cannot be embedded: the export has no browser-runnable text model';
    if (!auto) throw new SailError(`${why}; pass --text-model (its text backbone is ${id})`, { file: model.dir });
    try {
      textEncoder = await loadTextEncoder(id);
      owned.push(textEncoder);
    } catch (e) {
      for (const o of owned) await o.dispose();
      throw new SailError(`${why} and its text backbone '${id}' could not be loaded (${(e as Error).message}): pass --text-model NAME|DIR`, { file: model.dir });
    }
  }
  return { imageEncoder, textEncoder, owned };
}

/**
 * Start the search server. Image embeddings are computed here in Node (exported image_model.onnx, or the
 * given image encoder + image_head.onnx) while the server already answers; the page embeds queries in the
 * browser with onnxruntime-web when the export allows it, otherwise through /api/embed-text.
 */
export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  checkPort(opts.port);
  const bindHost = opts.host ?? '127.0.0.1';
  const loopback = isLoopbackHost(bindHost);
  if (!loopback && !opts.allowedHosts?.length)
    throw new SailError(`--host ${bindHost} makes the server reachable from other machines: give --allowed-hosts with the names clients will use (e.g. --allowed-hosts myhost.lan,192.168.1.20); every request then needs the access token printed at start-up`);
  const token = typeof opts.token === 'string' ? opts.token : opts.token === true || (opts.token === undefined && !loopback) ? newToken() : undefined;
  if (token !== undefined && !/^[A-Za-z0-9_-]{16,}$/.test(token)) throw new SailError('the access token must be at least 16 characters of A-Z a-z 0-9 _ -');
  const model: ExportedModel = loadExportedModel(opts.modelDir);
  const m = model.manifest;
  const { imageEncoder, textEncoder, owned } = await backbonesFor(model, opts);
  const browserText = !!m.text.model?.tokenizer;
  const embed = model.hasImageModel
    ? (files: string[]) => model.encodeImages(files)
    : async (files: string[]) => model.encodeFeatures('image', await imageEncoder!.encode(files));
  const progress = { done: 0, total: 0 };
  let index: ImageIndex | undefined;
  const ready = buildImageIndex(opts.imagesDir, {
    ...opts,
    embed,
    dim: m.dim,
    onProgress: (done, total) => {
      progress.done = done;
      progress.total = total;
      opts.onProgress?.(done, total);
    },
  }).then((ix) => (index = ix));
  // Indexing errors surface through `ready` and /api/info.
  let indexError: string | undefined;
  ready.catch((e: Error) => (indexError = e.message));

  // Files the page may fetch: the manifest and exactly the files it names, each checked when the
  // manifest was loaded to resolve inside the export folder (and re-checked when sent).
  const modelRoot = realpathSync(opts.modelDir);
  const modelFiles = new Map<string, string>([['sail_model.json', join(modelRoot, 'sail_model.json')]]);
  for (const f of [m.text.model?.file, m.text.model?.tokenizer?.vocabFile, m.image.model?.file, m.text.head.file, m.image.head.file])
    if (f && model.files.has(f)) modelFiles.set(f, model.files.get(f)!);
  const ortDist = realpathSync(ortWebDist());
  let allowedHosts = new Set<string>();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // DNS rebinding: a page on another site that resolves its own name to 127.0.0.1 still sends its name.
    if (!hostAllowed(req, allowedHosts)) return json(res, 403, { error: 'host not allowed (open the server by the address it printed)' });
    const target = parseTarget(req.url ?? '/');
    if (!target) return json(res, 400, { error: 'malformed request path' });
    const { path, query } = target;
    const isPage = req.method === 'GET' && (path === '/' || path === '/index.html');
    if (token !== undefined && !tokenAccepted(req, query, token)) {
      if (isPage) return send(res, 403, 'sail serve needs its access token: open the URL with ?token=... printed when the server started.\n');
      return json(res, 403, { error: 'access token required' });
    }
    // Opening the page with ?token= stores it in a cookie for the files the page cannot add a header to.
    if (isPage) return send(res, 200, PAGE_HTML, 'text/html; charset=utf-8', token ? { 'set-cookie': `${TOKEN_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict` } : {});
    if (req.method === 'GET' && path === '/favicon.ico') return send(res, 204, '');
    if (req.method === 'GET' && path === '/app.js') return send(res, 200, APP_JS, 'text/javascript; charset=utf-8');
    if (req.method === 'GET' && path.startsWith('/model/')) {
      const file = modelFiles.get(path.slice(7));
      return file ? sendFile(res, file, modelRoot) : notFound(res);
    }
    if (req.method === 'GET' && path.startsWith('/ort/')) {
      const name = path.slice(5);
      // Only plain onnxruntime-web bundle/wasm names: no separators, so no way out of dist/.
      return /^ort[a-z0-9.-]*\.(mjs|wasm)$/.test(name) ? sendFile(res, join(ortDist, name), ortDist) : notFound(res);
    }
    if (req.method === 'GET' && path.startsWith('/images/')) {
      // Images are addressed by index row, never by path; the indexed realpath is re-checked when sent.
      const id = /^\d{1,9}$/.test(path.slice(8)) ? Number(path.slice(8)) : -1;
      if (!index || id < 0 || id >= index.files.length) return notFound(res);
      return sendFile(res, index.realFiles[id], index.realRoot);
    }
    if (req.method === 'GET' && path === '/api/info')
      return json(res, 200, {
        ready: !!index, error: indexError, done: progress.done, total: progress.total, count: index?.files.length ?? 0, dim: m.dim,
        method: index ? (index.index.exact ? 'exact' : `ivf, ${index.index.nlist} lists`) : '', skipped: index?.skipped.length ?? 0,
        browserText, serverText: !!textEncoder, serverTextModel: browserText ? undefined : textEncoder?.id,
      });
    if (req.method === 'GET' && path === '/api/embed-text') {
      if (!textEncoder) return json(res, 501, { error: 'no server-side text encoder (start serve with --text-model)' });
      const q = (query.get('q') ?? '').slice(0, 2000);
      const v = await model.encodeFeatures('text', await textEncoder.encode([q]));
      return json(res, 200, { vector: Array.from(v) });
    }
    if (req.method === 'POST' && path === '/api/search') {
      if (!index) return json(res, 503, { error: indexError ?? 'index is still being built' });
      let body: { vector?: unknown; k?: unknown; nprobe?: unknown };
      try {
        body = JSON.parse(await readBody(req)) as typeof body;
      } catch (e) {
        return json(res, 400, { error: e instanceof SailError ? e.message : 'body is not JSON' });
      }
      const v = body.vector;
      if (!Array.isArray(v) || v.length !== m.dim || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) return json(res, 400, { error: `vector must be ${m.dim} finite numbers` });
      const k = Math.min(MAX_K, Math.max(1, Math.floor(Number(body.k) || 10)));
      const nprobe = body.nprobe === undefined ? opts.nprobe : Math.max(1, Math.floor(Number(body.nprobe)));
      const hits = index.index.search(Float32Array.from(v as number[]), k, nprobe);
      return json(res, 200, { method: index.index.exact ? 'exact' : 'ivf', hits: hits.map((h) => ({ id: h.index, name: index!.names[h.index], caption: index!.captions[h.index], score: h.score })) });
    }
    return json(res, req.method === 'GET' || req.method === 'POST' ? 404 : 405, { error: 'not found' });
  };

  const server: Server = createServer({ maxHeaderSize: 16 * 1024 }, (req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) json(res, 500, { error: e.message });
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, bindHost, () => resolve());
    });
  } catch (e) {
    await model.dispose();
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? 'the port is already in use' : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND' ? 'no such local address' : err.message;
    throw new SailError(`cannot listen on ${bindHost}:${opts.port ?? 0}: ${why}`);
  }
  const addr = server.address() as AddressInfo;
  allowedHosts = allowedHostHeaders(addr.port, bindHost, opts.allowedHosts);
  // The printed address is one the Host check accepts (an unspecified bind prints the first allowed name).
  const shown = bindHost === '0.0.0.0' || bindHost === '::' ? opts.allowedHosts![0] : addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown.includes(':') && !shown.startsWith('[') ? `[${shown}]` : shown}:${addr.port}/${token ? `?token=${token}` : ''}`,
    token,
    queries: browserText ? 'browser' : 'server',
    ...(browserText ? {} : { serverTextModel: textEncoder!.id }),
    ready,
    close: async () => {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
      await model.dispose();
      for (const e of owned) await e.dispose();
    },
  };
}
