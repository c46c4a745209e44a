// Issue 10 items 1, 2 and 16 (serve): a hostile export manifest, bad flags and unsafe binds end in one
// `sail:` line and exit 1, before anything is served; nothing from outside the export is printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { startSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { readExport } from '../../src/model/export.js';
import { checkPort, startServer } from '../../src/serve/server.js';
import { isLoopbackHost, parseAllowedHosts, allowedHostHeaders } from '../../src/serve/guard.js';
import { makeSite, SECRET, type Site } from './serve-helpers.js';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run the CLI without blocking the event loop (so several run side by side). */
function sail(args: string[]): Promise<Run> {
  const child = startSail(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
}

/** Exit 1, exactly one line on stderr matching `message`, nothing on stdout, no secret anywhere. */
function oneLineError(r: Run, message: RegExp, what: string): void {
  assert.equal(r.status, 1, `${what}: exit ${r.status}, stderr ${r.stderr}`);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, `${what}: ${r.stderr}`);
  assert.match(lines[0], /^sail: /, what);
  assert.match(lines[0], message, what);
  assert.equal(r.stdout, '', what);
  assert.ok(!(r.stdout + r.stderr).includes(SECRET), `${what} leaked`);
}

const serve = (site: Site, exportDir: string, extra: string[] = []) => sail(['serve', '--model', exportDir, '--images', site.imagesDir, '--port', '0', '--json', ...extra]);

/** A copy of the site's export whose manifest is changed by `edit`. */
function editedExport(site: Site, name: string, edit: (m: Record<string, any>, dir: string) => void): string {
  const dir = join(site.root, name);
  mkdirSync(dir);
  for (const f of ['image_head.onnx', 'text_head.onnx', 'image_model.onnx', 'text_model.onnx', 'vocab.json']) writeFileSync(join(dir, f), readFileSync(join(site.exportDir, f)));
  const m = JSON.parse(readFileSync(join(site.exportDir, 'sail_model.json'), 'utf8')) as Record<string, any>;
  edit(m, dir);
  writeFileSync(join(dir, 'sail_model.json'), JSON.stringify(m));
  return dir;
}

test('sail serve: a manifest naming a file outside the export (traversal, absolute, symlink) or missing text is refused in one line', async () => {
  const site = await makeSite();
  const traversal = editedExport(site, 'e-traversal', (m) => (m.text.model.tokenizer.vocabFile = '../outside/secret.txt'));
  const deep = editedExport(site, 'e-deep', (m) => (m.text.model.tokenizer.vocabFile = '../../../../../../../../etc/passwd'));
  const absolute = editedExport(site, 'e-absolute', (m) => (m.image.head.file = '/etc/passwd'));
  const linked = editedExport(site, 'e-symlink', (_m, dir) => {
    rmSync(join(dir, 'vocab.json'));
    symlinkSync(join(site.outside, 'secret.txt'), join(dir, 'vocab.json'));
  });
  const noText = editedExport(site, 'e-notext', (m) => delete m.text);
  const noFile = editedExport(site, 'e-nofile', (m) => delete m.image.model.file);
  // The CLI prints one line for each (three processes); the other variants go through the same loader.
  const runs = await Promise.all([traversal, linked, noText].map((d) => serve(site, d)));
  const manifest = (d: string) => new RegExp(`^sail: ${join(d, 'sail_model.json').replace(/[/.]/g, '\\$&')}: `);
  oneLineError(runs[0], /text\.model\.tokenizer\.vocabFile "\.\.\/outside\/secret\.txt" is not a plain relative file name inside the export folder$/, 'traversal');
  assert.match(runs[0].stderr, manifest(traversal));
  oneLineError(runs[1], /text\.model\.tokenizer\.vocabFile "vocab\.json" resolves outside the export folder/, 'symlink');
  oneLineError(runs[2], /missing or invalid field text \(not a complete sail export\?\)$/, 'no text');
  assert.match(runs[2].stderr, manifest(noText));
  const refused = (dir: string, message: RegExp, what: string) =>
    assert.throws(() => readExport(dir), (e: Error) => e.name === 'SailError' && manifest(dir).test(`sail: ${e.message}`) && message.test(e.message), what);
  refused(deep, /vocabFile "(\.\.\/)+etc\/passwd" is not a plain relative file name/, 'deep traversal');
  refused(absolute, /image\.head\.file "\/etc\/passwd" is not a plain relative file name/, 'absolute');
  refused(noFile, /image\.model\.file must be a file name$/, 'no file');
});

test('sail serve: --port outside 0..65535, a public bind without --allowed-hosts, bad --allowed-hosts and a busy port are one-line errors', async () => {
  const site = await makeSite();
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  const busyPort = (busy.address() as { port: number }).port;
  try {
    const cases: [string[], RegExp][] = [
      [['--port', '70000'], /^sail: --port must be an integer from 0 to 65535, got "70000"$/],
      [['--host', '0.0.0.0'], /^sail: --host 0\.0\.0\.0 makes the server reachable from other machines: give --allowed-hosts .*access token/],
      [['--allowed-hosts', 'evil.example:80'], /^sail: --allowed-hosts: "evil\.example:80" is not a host name or IP address/],
      [['--port', String(busyPort)], new RegExp(`^sail: cannot listen on 127\\.0\\.0\\.1:${busyPort}: the port is already in use$`)],
    ];
    // --port 0 is last in serve(): flags given here override it (commander keeps the last value).
    const runs = await Promise.all(cases.map(([args]) => serve(site, site.exportDir, args)));
    runs.forEach((r, i) => oneLineError(r, cases[i][1], cases[i][0].join(' ')));
    // The same checks, without a process each.
    for (const v of ['-1', '80.5', 'http', '', '1e5', '65536'])
      assert.throws(() => checkPort(Number(v), v), (e: Error) => e.name === 'SailError' && e.message === `--port must be an integer from 0 to 65535, got ${JSON.stringify(v)}`, v);
    assert.throws(() => parseAllowedHosts(' , '), (e: Error) => e.message === '--allowed-hosts needs at least one host name');
  } finally {
    busy.close();
  }
});

test('readExport: only plain relative names inside the export folder are accepted', async () => {
  const site = await makeSite();
  const cases: [unknown, RegExp][] = [
    ['..', /not a plain relative file name/],
    ['./vocab.json', /not a plain relative file name/],
    ['sub/../vocab.json', /not a plain relative file name/],
    ['vocab.json/', /not a plain relative file name/],
    ['..\\outside\\secret.txt', /not a plain relative file name/],
    ['vocab.json\0.png', /not a plain relative file name/],
    ['', /must be a file name/],
    [42, /must be a file name/],
    ['nothere.json', /names "nothere\.json", which is not in the export folder/],
  ];
  for (const [name, message] of cases) {
    const dir = editedExport(site, `r-${cases.findIndex((c) => c[0] === name)}`, (m) => (m.text.model.tokenizer.vocabFile = name));
    assert.throws(() => readExport(dir), (e: Error) => e.name === 'SailError' && message.test(e.message), JSON.stringify(name));
  }
  // A name in a subfolder of the export is fine; its realpath is what gets served.
  const sub = editedExport(site, 'r-sub', (m, dir) => {
    mkdirSync(join(dir, 'tok'));
    writeFileSync(join(dir, 'tok', 'v.json'), readFileSync(join(dir, 'vocab.json')));
    m.text.model.tokenizer.vocabFile = 'tok/v.json';
  });
  assert.equal(readExport(sub).files.get('tok/v.json'), join(sub, 'tok', 'v.json'));
  const dir = tempDir();
  writeFileSync(join(dir, 'sail_model.json'), '[1,2]');
  assert.throws(() => readExport(dir), /sail_model\.json: the export config is not a JSON object/);
});

test('Host and bind rules: loopback detection, accepted Host values, --allowed-hosts parsing', () => {
  for (const h of ['127.0.0.1', '127.8.9.10', 'localhost', '::1', '[::1]', 'LOCALHOST']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '192.168.1.5', '10.0.0.1', '169.254.169.254', 'example.com', '127.0.0.1.nip.io', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
  const hosts = allowedHostHeaders(8080, '0.0.0.0', parseAllowedHosts('Photos.LAN,192.168.1.5,fe80::1'));
  assert.deepEqual([...hosts].sort(), ['127.0.0.1:8080', '192.168.1.5:8080', '[::1]:8080', '[fe80::1]:8080', 'localhost:8080', 'photos.lan:8080']);
  assert.ok(allowedHostHeaders(80, '127.0.0.1').has('localhost'), 'browsers omit :80');
  assert.ok(!allowedHostHeaders(8080, '127.0.0.1').has('localhost'));
  for (const bad of ['*.example.com', 'a b', 'http://x', 'x/y', '-x.com']) assert.throws(() => parseAllowedHosts(bad), /is not a host name or IP address/, bad);
});

test('startServer (library): port and bind rules are checked before anything is loaded or bound', async () => {
  const site = await makeSite();
  const base = { modelDir: site.exportDir, imagesDir: site.imagesDir };
  for (const port of [70000, -1, 1.5, NaN]) await assert.rejects(startServer({ ...base, port }), (e: Error) => e.name === 'SailError' && /--port must be an integer from 0 to 65535/.test(e.message), String(port));
  await assert.rejects(startServer({ ...base, host: '0.0.0.0' }), /give --allowed-hosts/);
  await assert.rejects(startServer({ ...base, token: 'short' }), /access token must be at least 16 characters/);
  const srv = await startServer({ ...base, token: true });
  try {
    await srv.ready;
    assert.ok(srv.token && srv.url.endsWith(`/?token=${srv.token}`));
    assert.equal((await fetch(srv.url.replace(/\?.*/, '') + 'api/info')).status, 403);
    assert.equal((await fetch(srv.url.replace(/\?.*/, '') + 'api/info', { headers: { authorization: `Bearer ${srv.token}` } })).status, 200);
  } finally {
    await srv.close();
  }
});
