// `sail download` against hostile destinations. The guard is tested on the address-check function itself
// (no address is ever contacted) and end to end through redirects from the local 127.0.0.1 server, with a
// tripwire on socket connects: any connect to a host outside 127.0.0.0/8 throws before it happens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket } from 'node:net';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { classifyAddress, refusalReason, resolveChecked, BlockedAddressError, DEFAULT_NETWORK_POLICY, type Resolver } from '../../src/data/net-guard.js';
import { fetchLimited, DEFAULT_FETCH_LIMITS } from '../../src/data/fetch.js';
import { download } from '../../src/data/download.js';
import { readStatus, shardPaths } from '../../src/data/shards.js';
import { FLAG_LIMITS, intFlag, secondsFlag } from '../../src/cli/download.js';
import { parseNumber } from '../../src/cli/flags.js';
import { runSail } from '../helpers/cli.js';
import { tempDir } from '../helpers/paths.js';
import { csvOf, handlers, makeJpeg, startServer, type FixtureServer } from '../data/fixtures.js';

// ---- tripwire: every socket connect is recorded; one to a host outside 127.0.0.0/8 is refused outright ----
const connects: string[] = [];
const realConnect = Socket.prototype.connect;
before(() => {
  Socket.prototype.connect = function (this: Socket, ...args: unknown[]) {
    // net.connect() passes its normalised arguments as one array
    const o = Array.isArray(args[0]) ? (args[0] as unknown[])[0] : args[0];
    const host = typeof o === 'object' && o !== null ? String((o as { host?: string }).host ?? 'localhost') : String(args[1] ?? 'localhost');
    connects.push(host);
    if (!/^127\.\d+\.\d+\.\d+$/.test(host)) throw new Error(`tripwire: test tried to connect to ${host}`);
    return (realConnect as (...a: unknown[]) => Socket).apply(this, args);
  } as typeof Socket.prototype.connect;
});
after(() => { Socket.prototype.connect = realConnect; });

let server: FixtureServer;
before(async () => {
  server = await startServer({
    '/ok.jpg': await makeJpeg(64, 48, 1),
    '/to-private': handlers.redirect('http://10.0.0.1/x'),
    '/to-metadata': handlers.redirect('http://169.254.169.254/latest/meta-data/'),
    '/to-mapped': handlers.redirect('http://[::ffff:10.0.0.1]/x'),
    '/to-ula': handlers.redirect('http://[fd00::1]/x'),
    '/to-name': handlers.redirect('http://intranet.test/x'),
    '/to-decimal': handlers.redirect('http://2852039166/'), // 169.254.169.254 written as one number
  });
});
after(async () => { await server.close(); });

test('guard: address classes of IPv4 and IPv6 forms (checked on the function, nothing contacted)', () => {
  const cases: Array<[string, string]> = [
    ['8.8.8.8', 'public'], ['1.1.1.1', 'public'], ['93.184.216.34', 'public'],
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'], ['[::1]', 'loopback'],
    ['10.0.0.1', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'], ['100.64.0.1', 'private'],
    ['172.32.0.1', 'public'], ['100.128.0.1', 'public'],
    ['169.254.169.254', 'link-local'], ['169.254.0.1', 'link-local'], ['fe80::1', 'link-local'], ['fe80::1%eth0', 'link-local'], ['febf::1', 'link-local'],
    ['224.0.0.1', 'multicast'], ['239.255.255.250', 'multicast'], ['ff02::1', 'multicast'], ['ff05::fb', 'multicast'],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'],
    ['fc00::1', 'private'], ['fd12:3456::1', 'private'], ['fec0::1', 'private'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:10.0.0.1', 'private'], ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:8.8.8.8', 'public'], ['64:ff9b::a9fe:a9fe', 'link-local'], ['64:ff9b::808:808', 'public'], ['2002:a00:1::', 'private'],
    ['::10.0.0.1', 'reserved'], ['2001:db8::1', 'reserved'], ['2001::1', 'reserved'], ['100::1', 'reserved'],
    ['240.0.0.1', 'reserved'], ['255.255.255.255', 'reserved'], ['192.0.2.5', 'reserved'],
    ['2606:4700:4700::1111', 'public'], ['2a00:1450:4001::200e', 'public'],
  ];
  for (const [ip, want] of cases) assert.equal(classifyAddress(ip), want, ip);
  assert.throws(() => classifyAddress('example.com'), /not an IP address/);
});

test('guard: the policy refuses every non-public class by default; flags open only their own class', () => {
  for (const ip of ['127.0.0.1', '::1', '10.0.0.1', '169.254.169.254', 'fe80::1', '224.0.0.1', 'ff02::1', '0.0.0.0', '::', 'fd00::1', '::ffff:192.168.0.1']) {
    assert.ok(refusalReason(ip, DEFAULT_NETWORK_POLICY), ip);
  }
  assert.equal(refusalReason('8.8.8.8', DEFAULT_NETWORK_POLICY), undefined);
  const loop = { allowLoopback: true, allowPrivateNetwork: false };
  assert.equal(refusalReason('127.0.0.1', loop), undefined);
  assert.equal(refusalReason('::1', loop), undefined);
  assert.match(refusalReason('10.0.0.1', loop)!, /private address 10\.0\.0\.1 refused \(--allow-private-network allows it\)/);
  const lan = { allowLoopback: false, allowPrivateNetwork: true };
  assert.equal(refusalReason('192.168.0.10', lan), undefined);
  assert.equal(refusalReason('fd00::1', lan), undefined);
  // the metadata service, multicast and loopback stay refused with --allow-private-network
  assert.match(refusalReason('169.254.169.254', lan)!, /link-local/);
  assert.match(refusalReason('224.0.0.1', lan)!, /multicast/);
  assert.match(refusalReason('127.0.0.1', lan)!, /loopback address 127\.0\.0\.1 refused \(--allow-loopback allows it\)/);
});

test('guard: resolved names are checked on every address the resolver returns', async () => {
  const fake = (table: Record<string, string[]>): Resolver => async (h) => (table[h] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  const r = fake({ 'intranet.test': ['10.0.0.1'], 'mixed.test': ['93.184.216.34', '169.254.169.254'], 'pub.test': ['93.184.216.34'] });
  await assert.rejects(resolveChecked('intranet.test', DEFAULT_NETWORK_POLICY, r), (e: Error) => e instanceof BlockedAddressError && /intranet\.test resolves to private address 10\.0\.0\.1/.test(e.message));
  await assert.rejects(resolveChecked('mixed.test', DEFAULT_NETWORK_POLICY, r), /link-local address 169\.254\.169\.254/);
  assert.deepEqual(await resolveChecked('pub.test', DEFAULT_NETWORK_POLICY, r), { address: '93.184.216.34', family: 4 });
  // IP literals never reach the resolver
  let asked = 0;
  await assert.rejects(resolveChecked('[::ffff:a9fe:a9fe]', DEFAULT_NETWORK_POLICY, async () => { asked++; return []; }), /link-local/);
  assert.equal(asked, 0);
});

test('download: redirects from 127.0.0.1 to private, metadata and intranet names are refused before any connect', async () => {
  const resolver: Resolver = async (h) => (h === 'intranet.test' ? [{ address: '10.0.0.1', family: 4 }] : []);
  const net = { policy: { allowLoopback: true, allowPrivateNetwork: false }, resolver };
  const limits = { ...DEFAULT_FETCH_LIMITS, timeoutMs: 5000, bodyTimeoutMs: 5000, retries: 2, backoffMs: 5 };
  const want: Array<[string, RegExp]> = [
    ['/to-private', /private address 10\.0\.0\.1/],
    ['/to-metadata', /link-local address 169\.254\.169\.254/],
    ['/to-mapped', /private address ::ffff:a00:1/],
    ['/to-ula', /private address fd00::1/],
    ['/to-name', /intranet\.test resolves to private address 10\.0\.0\.1/],
    ['/to-decimal', /link-local address 169\.254\.169\.254/],
  ];
  for (const [path, msg] of want) {
    connects.length = 0;
    const r = await fetchLimited(server.url(path), limits, net);
    assert.equal(r.ok, false, path);
    if (r.ok) continue;
    assert.equal(r.reason, 'blocked_address', `${path}: ${r.message}`);
    assert.match(r.message, /^redirect to /);
    assert.match(r.message, msg);
    assert.equal(r.attempts, 1, 'a refusal is final, never retried');
    // exactly one connect: the first hop to the local server; the refused hop never reached connect()
    assert.deepEqual(connects, ['127.0.0.1'], path);
  }
  const ok = await fetchLimited(server.url('/ok.jpg'), limits, net);
  assert.equal(ok.ok, true);
});

test('download: without --allow-loopback even the local server is refused, with no connect at all', async () => {
  connects.length = 0;
  const dir = tempDir();
  const list = join(dir, 'list.csv');
  writeFileSync(list, csvOf([[server.url('/ok.jpg'), 'a'], ['http://localhost:1/x.jpg', 'b'], [server.url('/bad%zzpath'), 'c']]));
  // a fake resolver answers for localhost, so not even a DNS query leaves this process
  const resolver: Resolver = async (h) => (h === 'localhost' ? [{ address: '127.0.0.1', family: 4 }] : []);
  const res = await download({ input: list, urlCol: 'url', captionCols: ['caption'], output: join(dir, 'out'), shardSize: 10, concurrency: 2, fetch: { retries: 0 }, resolver });
  assert.deepEqual(connects, []);
  assert.deepEqual(res.summary.failedByReason, { blocked_address: 2, invalid_row: 1 });
  const st = await readStatus(shardPaths(join(dir, 'out'), 0).status);
  assert.match(st[0].message!, /loopback address 127\.0\.0\.1 refused \(--allow-loopback allows it\)/);
  assert.match(st[1].message!, /localhost resolves to loopback address/);
  // a malformed percent-encoding is a row error naming the line, not a request
  assert.equal(st[2].message, 'line 4: malformed percent-encoding "%zz" in URL');
});

test('sail download: numeric flags are bounded (one line, exit 1, nothing created)', () => {
  const dir = tempDir();
  const list = join(dir, 'list.csv');
  writeFileSync(list, csvOf([['http://127.0.0.1:1/x.jpg', 'a']]));
  const r = runSail(['download', '-i', list, '-o', join(dir, 'out'), '--allow-loopback', '--backoff', '1e308']);
  assert.equal(r.status, 1, r.stderr);
  assert.equal(r.stderr.trim(), 'sail: --backoff must be a number > 0 and <= 600, got "1e308"');
  assert.equal(existsSync(join(dir, 'out')), false);
  // the same parsers, without a CLI start each
  assert.throws(() => secondsFlag('Infinity', '--timeout', FLAG_LIMITS.timeoutSeconds), /^SailError: --timeout must be a number > 0 and <= 3600, got "Infinity"$/);
  assert.throws(() => intFlag('1e9', '--retries', 0, FLAG_LIMITS.retries), /--retries must be an integer from 0 to 100, got "1e9"/);
  assert.throws(() => intFlag('100000', '--concurrency', 1, FLAG_LIMITS.concurrency), /--concurrency must be an integer from 1 to 1024/);
  assert.throws(() => intFlag('21', '--max-redirects', 0, FLAG_LIMITS.maxRedirects), /--max-redirects must be an integer from 0 to 20/);
  assert.throws(() => intFlag('1e10', '--max-bytes', 1, FLAG_LIMITS.maxBytes), /--max-bytes must be an integer from 1 to 1073741824/);
  assert.equal(secondsFlag('0.0001', '--backoff', FLAG_LIMITS.backoffSeconds), 1, 'sub-millisecond rounds up to 1 ms, never 0');
  // a flag whose rule names no maximum still has one
  assert.throws(() => parseNumber('1e308', '--x', { min: 0 }), /--x must be a number >= 0 of at most 1000000000000 in magnitude, got "1e308"/);
  assert.equal(parseNumber('4294967295', '--seed', { int: true, min: 0 }), 4294967295);
});
