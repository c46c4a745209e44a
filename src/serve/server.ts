// HTTP server for browser image search over a local folder (127.0.0.1 by default).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
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

export interface ServeOptions extends IvfOptions {
  /** Export folder written by `sail export`. */
  modelDir: string;
  /** Folder of images to index. */
  imagesDir: string;
  port?: number;
  /** Default 127.0.0.1; anything else exposes the folder to the network. */
  host?: string;
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
  url: string;
  /** Where search queries are embedded: 'browser' (text_model.onnx in the page) or 'server' (a text backbone here). */
  queries: 'browser' | 'server';
  /** The text backbone embedding queries on the server (its id), when queries are embedded here. */
  serverTextModel?: string;
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

function send(res: ServerResponse, code: number, body: string | Buffer, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(code, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' });
  res.end(body);
}
const json = (res: ServerResponse, code: number, v: unknown) => send(res, code, JSON.stringify(v), 'application/json');

function sendFile(res: ServerResponse, file: string): void {
  res.writeHead(200, { 'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream', 'x-content-type-options': 'nosniff' });
  createReadStream(file).on('error', () => res.destroy()).pipe(res);
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

  // Files the page may fetch: the manifest and exactly the files it names.
  const modelFiles = new Set(['sail_model.json', m.text.model?.file, m.text.model?.tokenizer?.vocabFile, m.image.model?.file, m.text.head.file, m.image.head.file].filter((f): f is string => !!f));
  const ortDist = ortWebDist();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (req.method === 'GET' && (path === '/' || path === '/index.html')) return send(res, 200, PAGE_HTML, 'text/html; charset=utf-8');
    if (req.method === 'GET' && path === '/favicon.ico') return send(res, 204, '');
    if (req.method === 'GET' && path === '/app.js') return send(res, 200, APP_JS, 'text/javascript; charset=utf-8');
    if (req.method === 'GET' && path.startsWith('/model/')) {
      const name = decodeURIComponent(path.slice(7));
      return modelFiles.has(name) ? sendFile(res, join(opts.modelDir, name)) : json(res, 404, { error: 'not found' });
    }
    if (req.method === 'GET' && path.startsWith('/ort/')) {
      const name = path.slice(5);
      // Only plain onnxruntime-web bundle/wasm names: no separators, so no way out of dist/.
      return /^ort[a-z0-9.-]*\.(mjs|wasm)$/.test(name) && existsSync(join(ortDist, name)) ? sendFile(res, join(ortDist, name)) : json(res, 404, { error: 'not found' });
    }
    if (req.method === 'GET' && path.startsWith('/images/')) {
      // Images are addressed by index row, never by path, so traversal is impossible by construction.
      const id = Number(path.slice(8));
      if (!index || !Number.isInteger(id) || id < 0 || id >= index.files.length) return json(res, 404, { error: 'not found' });
      return sendFile(res, index.files[id]);
    }
    if (req.method === 'GET' && path === '/api/info')
      return json(res, 200, {
        ready: !!index, error: indexError, done: progress.done, total: progress.total, count: index?.files.length ?? 0, dim: m.dim,
        method: index ? (index.index.exact ? 'exact' : `ivf, ${index.index.nlist} lists`) : '', skipped: index?.skipped.length ?? 0,
        browserText, serverText: !!textEncoder, serverTextModel: browserText ? undefined : textEncoder?.id,
      });
    if (req.method === 'GET' && path === '/api/embed-text') {
      if (!textEncoder) return json(res, 501, { error: 'no server-side text encoder (start serve with --text-model)' });
      const q = (url.searchParams.get('q') ?? '').slice(0, 2000);
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

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) json(res, 500, { error: e.message });
      else res.destroy();
    });
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}/`,
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
