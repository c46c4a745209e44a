// `sail serve --model EXPORT_DIR --images FOLDER`: browser image search over a local folder.
import type { Command } from 'commander';
import { checkPort, startServer } from '../serve/server.js';
import { loadImageEncoder, loadTextEncoder } from '../encoders/registry.js';
import { NON_NEGATIVE_INT, parseOptional, POSITIVE_INT } from './flags.js';
import { lazyCountBar } from './progress-bar.js';
import { parseAllowedHosts } from '../serve/guard.js';

interface ServeFlags {
  model: string;
  images: string;
  port: string;
  host: string;
  allowedHosts?: string;
  token?: boolean;
  visionModel?: string;
  textModel?: string;
  nprobe?: string;
  exactBelow?: string;
  json?: boolean;
}


/** Register `sail serve`. */
export function register(program: Command): void {
  program
    .command('serve')
    .description('serve a web page that searches a local image folder by text (the query is embedded in the browser when the export has a browser-runnable text model, otherwise on the server with the text backbone recorded in sail_model.json)')
    .requiredOption('--model <dir>', 'export folder written by `sail export`')
    .requiredOption('--images <dir>', 'folder of images to index (recursive)')
    .option('--port <n>', 'port (0 = any free port)', '8080')
    .option('--host <addr>', 'address to bind; the default keeps the server private to this machine', '127.0.0.1')
    .option('--allowed-hosts <names>', 'comma-separated host names clients use to reach a non-loopback --host (required with one); requests naming another Host are refused')
    .option('--token', 'require an access token even on a loopback address (always required for a non-loopback --host)')
    .option('--vision-model <name|dir>', 'image backbone used with image_head.onnx when the export has no image_model.onnx (default: the one sail_model.json records)')
    .option('--text-model <name|dir>', 'text backbone embedding queries on the server when the export has no browser-runnable text model (default: the one sail_model.json records)')
    .option('--nprobe <n>', 'inverted lists probed per query (large folders)')
    .option('--exact-below <n>', 'exact search below this many images (default 2048)')
    .option('--json', 'print {url, count} as JSON once indexed')
    .action(async (flags: ServeFlags) => {
      // Every flag is checked before anything is loaded.
      const port = Number(flags.port);
      checkPort(port, flags.port);
      const nprobe = parseOptional(flags.nprobe, '--nprobe', POSITIVE_INT);
      const exactBelow = parseOptional(flags.exactBelow, '--exact-below', NON_NEGATIVE_INT);
      const allowedHosts = flags.allowedHosts === undefined ? undefined : parseAllowedHosts(flags.allowedHosts);
      const bar = lazyCountBar('indexing {bar} {value}/{total} images', flags.json);
      const srv = await startServer({
        modelDir: flags.model,
        imagesDir: flags.images,
        port,
        host: flags.host,
        allowedHosts,
        token: flags.token ? true : undefined,
        imageEncoder: flags.visionModel ? await loadImageEncoder(flags.visionModel) : undefined,
        textEncoder: flags.textModel ? await loadTextEncoder(flags.textModel) : undefined,
        nprobe,
        exactBelow,
        onProgress: (done, total) => bar.update(done, total),
      });
      if (!flags.json) console.log(`sail serve: ${srv.url} (indexing ${flags.images})`);
      if (!flags.json && srv.token) console.log('every request needs the access token: open the URL above (it carries ?token=), keep it private');
      const ix = await srv.ready;
      bar.stop();
      const where = srv.queries === 'browser' ? 'in the browser (text_model.onnx)' : `on the server (${srv.serverTextModel})`;
      if (flags.json) console.log(JSON.stringify({ url: srv.url, count: ix.files.length, skipped: ix.skipped.length, method: ix.index.exact ? 'exact' : 'ivf', queries: srv.queries, serverTextModel: srv.serverTextModel }));
      else {
        for (const s of ix.skipped) console.error(`skipped ${s.file}: ${s.reason}`);
        console.log(`${ix.files.length} images indexed (${ix.index.exact ? 'exact search' : `IVF, ${ix.index.nlist} lists`}); queries embedded ${where}; open ${srv.url}`);
      }
      const stop = () => void srv.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
}
