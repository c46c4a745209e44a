import { test } from 'node:test';
import assert from 'node:assert/strict';
import { numberArg, oneOf, parseNumber } from '../../src/cli/flags.js';
import { buildProgram } from '../../src/cli/main.js';

test('numeric flags: accepted values and one wording of errors', () => {
  assert.equal(parseNumber('3', '--steps', { int: true, positive: true }), 3);
  assert.equal(parseNumber('0', '--wd', { min: 0 }), 0);
  assert.equal(parseNumber('1e-4', '--lr', { positive: true }), 1e-4);
  assert.throws(() => parseNumber('0', '--steps', { int: true, positive: true }), /--steps must be a positive integer, got "0"/);
  assert.throws(() => parseNumber('2.5', '--k', { int: true, min: 1 }), /--k must be an integer >= 1, got "2.5"/);
  assert.throws(() => parseNumber('', '--lr', { positive: true }), /--lr must be a positive number, got ""/);
  assert.throws(() => parseNumber('NaN', '--x'), /--x must be a number/);
  assert.throws(() => numberArg('batch-size', { int: true, positive: true })('-1'), /--batch-size must be a positive integer/);
  assert.equal(oneOf('lion', ['lion', 'adamw'] as const, '--optimizer'), 'lion');
  assert.throws(() => oneOf('sgd', ['lion', 'adamw'] as const, '--optimizer'), /--optimizer must be one of lion, adamw, got "sgd"/);
});

test('the CLI lists every pipeline command', () => {
  const names = buildProgram().commands.map((c) => c.name());
  for (const c of ['demo', 'download', 'data', 'encode', 'store', 'train', 'probe', 'eval', 'export', 'serve', 'segment']) assert.ok(names.includes(c), c);
});

test('bounded numbers: max is inclusive and named in the error; optional flags stay undefined', async () => {
  const { parseOptional } = await import('../../src/cli/flags.js');
  assert.equal(parseNumber('65535', '--port', { int: true, min: 0, max: 65535 }), 65535);
  assert.throws(() => parseNumber('65536', '--port', { int: true, min: 0, max: 65535 }), /--port must be an integer from 0 to 65535, got "65536"/);
  assert.throws(() => parseNumber('1e308', '--x', { positive: true, max: 3600 }), /--x must be a number > 0 and <= 3600/);
  assert.equal(parseOptional(undefined, '--threads', { int: true, positive: true }), undefined);
  assert.equal(parseOptional('2', '--threads', { int: true, positive: true }), 2);
});

test('CLI defaults are the library defaults (sail train and sail probe show them)', async () => {
  const { TRAIN_DEFAULTS } = await import('../../src/train/defaults.js');
  const { PROBE_DEFAULTS } = await import('../../src/probe/probe.js');
  const { defaultHeadConfig } = await import('../../src/head/config.js');
  const program = buildProgram();
  const opt = (cmd: string, flag: string) => program.commands.find((c) => c.name() === cmd)!.options.find((o) => o.long === flag)!;
  assert.match(opt('train', '--epochs').description, new RegExp(`default ${TRAIN_DEFAULTS.epochs}\\)`));
  // --dim and --batch-size have no commander default (small stores get smaller ones); the help names the library's
  assert.match(opt('train', '--dim').description, new RegExp(`\\(default ${defaultHeadConfig.targetDim};`));
  assert.equal(opt('train', '--head').defaultValue, defaultHeadConfig.type);
  assert.match(opt('train', '--batch-size').description, new RegExp(`; default ${TRAIN_DEFAULTS.batchSize},`));
  assert.equal(opt('probe', '--dim').defaultValue, String(PROBE_DEFAULTS.targetDim));
  assert.equal(opt('probe', '--epochs').defaultValue, String(PROBE_DEFAULTS.epochs));
});
