// The package as a user gets it: `npm pack`, install the tarball into a fresh project with --offline (from
// the npm cache that `npm ci` filled: no network), then run `npx sail --help` and the README's library
// snippet there. The temp project gets a lockfile built from ours, because an offline install can only
// use cached tarballs, not registry metadata.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/paths.js';

const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/** What the README tells offline users to set: skip onnxruntime-node's optional CUDA download. */
const OFFLINE_ENV = { ONNXRUNTIME_NODE_INSTALL: 'skip', npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' };

/** The ```ts block of the README's "Library API" section. */
export function readmeLibrarySnippet(readme: string): string {
  const section = readme.slice(readme.indexOf('## Library API'));
  const m = /```ts\n([\s\S]*?)```/.exec(section);
  if (!m) throw new Error('no ts block in the README Library API section');
  return m[1];
}

interface LockEntry { dev?: boolean; [k: string]: unknown }

test('npm pack -> offline install in a fresh project -> npx sail --help and the README library snippet', { timeout: 600_000 }, () => {
  const root = repoRoot();
  const project = tempDir('sail-pack-');
  // dist/ is already built (npm test builds first), so packing does not rebuild
  execFileSync(NPM, ['pack', '--ignore-scripts', '--pack-destination', project], { cwd: root, stdio: 'pipe', env: { ...process.env, ...OFFLINE_ENV } });
  const tgz = readdirSync(project).find((f) => f.endsWith('.tgz'));
  assert.ok(tgz, 'npm pack wrote no tarball');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const dep = { 'sail-align': `file:${tgz}` };
  const packages: Record<string, unknown> = { '': { name: 'my-app', version: '1.0.0', dependencies: dep } };
  for (const [k, v] of Object.entries(lock.packages)) if (k !== '' && !v.dev) packages[k] = v;
  const integrity = 'sha512-' + createHash('sha512').update(readFileSync(join(project, tgz))).digest('base64');
  packages['node_modules/sail-align'] = { version: pkg.version, resolved: `file:${tgz}`, integrity, license: pkg.license, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines };
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-app', version: '1.0.0', private: true, type: 'module', dependencies: dep }, null, 2));
  writeFileSync(join(project, 'package-lock.json'), JSON.stringify({ name: 'my-app', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2));
  const env = { ...process.env, ...OFFLINE_ENV };
  const install = spawnSync(NPM, ['install', '--offline', '--no-audit', '--no-fund'], { cwd: project, env, encoding: 'utf8' });
  assert.equal(install.status, 0, install.stderr);

  const help = spawnSync(NPX, ['--offline', 'sail', '--help'], { cwd: project, env, encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: sail \[options\] \[command\]/);
  for (const cmd of ['download', 'data', 'encode', 'train', 'eval', 'export', 'serve']) assert.match(help.stdout, new RegExp(`\\n  ${cmd} `), cmd);

  // Every function the README and docs name is exported from the package root.
  const names = ['download', 'importFolder', 'splitShards', 'readWds', 'loadImageEncoder', 'loadTextEncoder', 'registerBackbone', 'encode', 'openStore', 'createStoreWriter',
    'importNpy', 'createTrainEngine', 'trainLoop', 'evaluateRetrieval', 'zeroShotEvaluate', 'runProbe', 'createModel', 'exportModel', 'segmentImage', 'startServer', 'loadHead', 'saveHead'];
  const check = spawnSync(process.execPath, ['--input-type=module', '-e', `import * as m from 'sail-align'; console.log(JSON.stringify(${JSON.stringify(names)}.filter((n) => typeof m[n] !== 'function')));`], { cwd: project, env, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  assert.deepEqual(JSON.parse(check.stdout), []);

  // The README snippet, verbatim, with the files it names: a head checkpoint (random, at the path the snippet names) and cat.png.
  const setup = `
    import { initParams, saveHead, Rng } from 'sail-align';
    import sharp from 'sharp';
    import { mkdirSync, writeFileSync } from 'node:fs';
    const dir = 'run/checkpoint';
    mkdirSync(dir, { recursive: true });
    const cfg = { type: 'star', widthFactor: 1, visionDim: 1792, textDim: 512, targetDim: 512, logitScaleInit: 20, logitBiasInit: -10 };
    await saveHead(dir + '/head.safetensors', initParams(cfg, new Rng(1)), cfg);
    writeFileSync(dir + '/config.json', JSON.stringify(cfg));
    await sharp({ create: { width: 64, height: 64, channels: 3, background: { r: 250, g: 200, b: 40 } } }).png().toFile('cat.png');`;
  const s = spawnSync(process.execPath, ['--input-type=module', '-e', setup], { cwd: project, env, encoding: 'utf8' });
  assert.equal(s.status, 0, s.stderr);
  const snippet = readmeLibrarySnippet(readFileSync(join(root, 'README.md'), 'utf8'));
  writeFileSync(join(project, 'snippet.mjs'), snippet + '\nconsole.log(JSON.stringify({ dim: model.dim, img: img.length, txt: txt.length, probs: Array.from(probs) }));\n');
  const run = spawnSync(process.execPath, ['snippet.mjs'], { cwd: project, env, encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { dim: number; img: number; txt: number; probs: number[] };
  // flat row-major arrays: 1 image x 512, 2 texts x 512, 1 image x 4 labels
  assert.deepEqual([out.dim, out.img, out.txt, out.probs.length], [512, 512, 1024, 4]);
  assert.ok(Math.abs(out.probs.reduce((a, b) => a + b, 0) - 1) < 1e-5, `softmax rows sum to 1: ${out.probs}`);
});
