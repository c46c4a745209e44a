// The --device choice: parsing, provider mapping, the probe, and the one-line error with the install
// hint when a provider cannot load. Written to hold on any machine: where CUDA or WebGPU does work,
// the "not usable" assertions are replaced by a successful session on that device.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { executionProvidersFor, getDefaultDevice, parseDevice, setDefaultDevice, INSTALL_HINTS } from '../../src/onnx/device.js';
import { probeDevice } from '../../src/onnx/doctor.js';
import { GraphBuilder } from '../../src/onnx/graph.js';
import { createSession, providersOf } from '../../src/onnx/session.js';
import { SailError } from '../../src/util/errors.js';
import { runSail } from '../helpers/cli.js';

const tinyGraph = (): Uint8Array => {
  const g = new GraphBuilder('t');
  const x = g.input('x', 'float32', [1]);
  g.output(g.op('Neg', [x]), 'y', 'float32', [1]);
  return g.toBytes();
};

test('device names parse, map to providers with CPU fallback, and a bad name is a SailError naming the flag', () => {
  assert.equal(parseDevice('cuda'), 'cuda');
  assert.deepEqual(executionProvidersFor('cpu'), ['cpu']);
  assert.deepEqual(executionProvidersFor('cuda'), ['cuda', 'cpu']);
  assert.deepEqual(executionProvidersFor('webgpu'), ['webgpu', 'cpu']);
  assert.throws(() => parseDevice('tpu', '--device'), (e: unknown) => e instanceof SailError && /--device must be one of cpu, cuda, webgpu, got "tpu"/.test(e.message));
  // the default device decides the providers of sessions that name none
  assert.equal(getDefaultDevice(), 'cpu');
  setDefaultDevice('webgpu');
  try {
    assert.deepEqual(providersOf({}), ['webgpu', 'cpu']);
    assert.deepEqual(providersOf({ device: 'cpu' }), ['cpu']);
    assert.deepEqual(providersOf({ executionProviders: ['cpu'] }), ['cpu']);
  } finally {
    setDefaultDevice('cpu');
  }
});

test('the CPU probe works; cuda/webgpu either work or fail with one line and the install hint', async () => {
  assert.deepEqual(await probeDevice('cpu'), { device: 'cpu', usable: true });
  for (const device of ['cuda', 'webgpu'] as const) {
    const p = await probeDevice(device);
    if (p.usable) {
      const s = await createSession(tinyGraph(), { device });
      await s.release();
      continue;
    }
    assert.equal(p.hint, INSTALL_HINTS[device]);
    assert.ok(p.reason && !p.reason.includes('\n'));
    await assert.rejects(createSession(tinyGraph(), { device }), (e: unknown) =>
      e instanceof SailError && e.message.startsWith(`--device ${device} is not usable here (`) && e.message.includes(INSTALL_HINTS[device]));
  }
});

test('sail doctor reports the providers and devices; --device with a bad name or an unusable device exits 1 with one line', async () => {
  const r = runSail(['doctor', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as { providers: { name: string }[]; devices: { device: string; usable: boolean }[]; defaultThreads: number };
  assert.ok(rep.providers.some((p) => p.name === 'cpu'));
  assert.deepEqual(rep.devices.map((d) => d.device), ['cpu', 'cuda', 'webgpu']);
  assert.equal(rep.devices[0].usable, true);
  assert.ok(rep.defaultThreads >= 1);
  const bad = runSail(['doctor', '--device', 'tpu']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^sail: --device must be one of cpu, cuda, webgpu, got "tpu"$/m);
  const train = runSail(['train', 'no-such-store', '--out', 'x', '--device', 'gpu']);
  assert.equal(train.status, 1);
  assert.match(train.stderr, /^sail: --device must be one of cpu, cuda, webgpu, got "gpu"$/m);
  const cuda = rep.devices.find((d) => d.device === 'cuda')!;
  if (!cuda.usable) {
    const c = runSail(['doctor', '--device', 'cuda']);
    assert.equal(c.status, 1);
    assert.match(c.stderr, /^sail: --device cuda is not usable here .*npm rebuild onnxruntime-node/m);
  }
});
