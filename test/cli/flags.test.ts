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
