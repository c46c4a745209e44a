// sail serve with exports whose backbones must be loaded from sail_model.json: an unloadable one fails at
// start with one line naming the flag, instead of a page whose search cannot work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { exportModel } from '../../src/model/export.js';
import { startServer } from '../../src/serve/server.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { PlantedImageEncoder } from '../model/helpers.js';
import { colourFolder, exportTiny, identityHead } from './fixtures.js';

test('serve: an export without a browser text model and an unloadable text backbone fails at start, naming --text-model', async () => {
  const root = tempDir();
  await exportTiny(join(root, 'export'), false);
  await colourFolder(join(root, 'images'));
  await assert.rejects(startServer({ modelDir: join(root, 'export'), imagesDir: join(root, 'images') }),
    /queries cannot be embedded: the export has no browser-runnable text model and its text backbone 'test-bag-of-words' could not be loaded \(unknown text backbone.*\): pass --text-model NAME\|DIR/);
  await assert.rejects(startServer({ modelDir: join(root, 'export'), imagesDir: join(root, 'images'), loadBackbones: false }), /pass --text-model \(its text backbone is test-bag-of-words\)/);
  const cli = runSail(['serve', '--model', join(root, 'export'), '--images', join(root, 'images'), '--port', '0']);
  assert.equal(cli.status, 1);
  assert.match(cli.stderr, /^sail: .*queries cannot be embedded.*pass --text-model NAME\|DIR$/m);
  assert.equal(cli.stdout, '');
});

test('serve: head-only export with a recorded image backbone id that does not load names --vision-model', async () => {
  const root = tempDir();
  await exportModel(identityHead(), { outDir: join(root, 'export'), imageBackboneId: 'no-such-backbone', textBackboneId: 'use-lite' });
  await colourFolder(join(root, 'images'));
  const image = new PlantedImageEncoder(3, new Map());
  await assert.rejects(startServer({ modelDir: join(root, 'export'), imagesDir: join(root, 'images') }),
    /no image_model\.onnx and its image backbone 'no-such-backbone' could not be loaded .*pass --vision-model NAME\|DIR/);
  // given encoders win over the recorded ids
  const srv = await startServer({ modelDir: join(root, 'export'), imagesDir: join(root, 'images'), imageEncoder: image, textEncoder: { id: 'planted-text', dim: 3, encode: async (t: string[]) => new Float32Array(t.length * 3).fill(1), dispose: async () => {} } as never });
  try {
    assert.deepEqual([srv.queries, srv.serverTextModel], ['server', 'planted-text']);
  } finally {
    await srv.close();
  }
});
