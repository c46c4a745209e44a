// Destination guard of `sail download`: which IP addresses it may connect to. A URL list is untrusted
// input, so by default only public unicast addresses are allowed: no loopback, private or link-local
// networks (169.254.169.254 is the cloud metadata service), multicast, unspecified or reserved ranges,
// including their IPv6 forms and IPv4 addresses hidden inside IPv6 (::ffff:a.b.c.d, NAT64, 6to4).
// The check runs on the resolved address of every hop, and the socket then connects to exactly that
// address, so a DNS answer cannot change between check and connect.
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP, isIPv4 } from 'node:net';

/** Kind of an address, as far as the guard cares. */
export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'multicast' | 'unspecified' | 'reserved';

/** Which non-public destinations are allowed. */
export interface NetworkPolicy {
  /** Allow 127.0.0.0/8 and ::1 (`--allow-loopback`; the project's tests use it for their local server). */
  allowLoopback: boolean;
  /** Allow private networks: 10/8, 172.16/12, 192.168/16, 100.64/10, 198.18/15, fc00::/7, fec0::/10 (`--allow-private-network`). */
  allowPrivateNetwork: boolean;
}

/** Nothing but public addresses. */
export const DEFAULT_NETWORK_POLICY: NetworkPolicy = { allowLoopback: false, allowPrivateNetwork: false };

/** A resolver: host name -> addresses (default: the system resolver, as the OS would connect). */
export type Resolver = (host: string) => Promise<Array<{ address: string; family: number }>>;

const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}

// [first address, prefix length, class]; the first match wins, so narrower ranges come first.
const V4_RANGES: Array<[string, number, AddressClass]> = [
  ['0.0.0.0', 8, 'unspecified'],
  ['10.0.0.0', 8, 'private'],
  ['100.64.0.0', 10, 'private'],
  ['127.0.0.0', 8, 'loopback'],
  ['169.254.0.0', 16, 'link-local'],
  ['172.16.0.0', 12, 'private'],
  ['192.0.0.0', 24, 'reserved'],
  ['192.0.2.0', 24, 'reserved'],
  ['192.88.99.0', 24, 'reserved'],
  ['192.168.0.0', 16, 'private'],
  ['198.18.0.0', 15, 'private'],
  ['198.51.100.0', 24, 'reserved'],
  ['203.0.113.0', 24, 'reserved'],
  ['224.0.0.0', 4, 'multicast'],
  ['240.0.0.0', 4, 'reserved'],
];

/** Class of a dotted-quad IPv4 address. */
function classifyV4(ip: string): AddressClass {
  const n = ipv4ToInt(ip);
  for (const [base, len, cls] of V4_RANGES) {
    const size = 2 ** (32 - len);
    const start = ipv4ToInt(base);
    if (n >= start && n < start + size) return cls;
  }
  return 'public';
}

/** The eight 16-bit groups of a valid IPv6 address (a trailing dotted quad and a zone id are allowed). */
function ipv6Groups(ip: string): number[] {
  let s = ip.replace(/%.*$/, '');
  const lastColon = s.lastIndexOf(':');
  const tail = s.slice(lastColon + 1);
  if (isIPv4(tail)) {
    // `::ffff:1.2.3.4` -> `::ffff:102:304`
    const n = ipv4ToInt(tail);
    s = `${s.slice(0, lastColon + 1)}${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
  }
  const parse = (part: string) => part.split(':').filter((x) => x !== '').map((h) => parseInt(h, 16));
  const gap = s.indexOf('::');
  if (gap < 0) return parse(s);
  const a = parse(s.slice(0, gap));
  const b = parse(s.slice(gap + 2));
  return [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
}

function v4FromGroups(hi: number, lo: number): string {
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.');
}

/** Class of an IPv6 address; IPv4 addresses embedded by mapping, NAT64 or 6to4 are judged as IPv4. */
function classifyV6(ip: string): AddressClass {
  const g = ipv6Groups(ip);
  const zeroUpTo = (k: number) => g.slice(0, k).every((x) => x === 0);
  if (zeroUpTo(8)) return 'unspecified';
  if (zeroUpTo(7) && g[7] === 1) return 'loopback';
  if (zeroUpTo(5) && g[5] === 0xffff) return classifyV4(v4FromGroups(g[6], g[7])); // ::ffff:a.b.c.d mapped
  if (zeroUpTo(4) && g[4] === 0xffff && g[5] === 0) return classifyV4(v4FromGroups(g[6], g[7])); // ::ffff:0:a.b.c.d translated
  if (zeroUpTo(6)) return 'reserved'; // ::a.b.c.d, deprecated IPv4-compatible
  if (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return classifyV4(v4FromGroups(g[6], g[7])); // NAT64
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'private'; // local-use NAT64
  if (g[0] === 0x2002) return classifyV4(v4FromGroups(g[1], g[2])); // 6to4 carries its IPv4 relay
  if (g[0] === 0x100 && g.slice(1, 4).every((x) => x === 0)) return 'reserved'; // discard-only
  if (g[0] === 0x2001 && g[1] === 0) return 'reserved'; // Teredo tunnels to arbitrary IPv4
  if (g[0] === 0x2001 && g[1] === 0xdb8) return 'reserved'; // documentation
  if ((g[0] & 0xfe00) === 0xfc00) return 'private'; // unique local fc00::/7
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local'; // fe80::/10
  if ((g[0] & 0xffc0) === 0xfec0) return 'private'; // site-local fec0::/10 (deprecated)
  if ((g[0] & 0xff00) === 0xff00) return 'multicast'; // ff00::/8
  if ((g[0] & 0xe000) !== 0x2000) return 'reserved'; // outside 2000::/3 global unicast
  return 'public';
}

/** Class of an IP address literal (IPv6 may be written with brackets); throws on anything else. */
export function classifyAddress(ip: string): AddressClass {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const v = isIP(bare.replace(/%.*$/, ''));
  if (v === 4) return classifyV4(bare);
  if (v === 6) return classifyV6(bare);
  throw new Error(`not an IP address: ${ip}`);
}

/** Why `ip` may not be contacted under `policy`, or undefined when it may. */
export function refusalReason(ip: string, policy: NetworkPolicy): string | undefined {
  let cls: AddressClass;
  try {
    cls = classifyAddress(ip);
  } catch {
    return `not an IP address: ${ip}`;
  }
  if (cls === 'public') return undefined;
  if (cls === 'loopback' && policy.allowLoopback) return undefined;
  if (cls === 'private' && policy.allowPrivateNetwork) return undefined;
  const hint = cls === 'loopback' ? ' (--allow-loopback allows it)' : cls === 'private' ? ' (--allow-private-network allows it)' : '';
  return `${cls} address ${ip} refused${hint}`;
}

/** A destination refused by the guard. */
export class BlockedAddressError extends Error {}

/**
 * Resolve a URL host name (or take an IP literal as it is) and check every address it resolves to.
 * Returns the address to connect to; throws {@link BlockedAddressError} when any address is refused
 * (a name that resolves to both public and private addresses is treated as hostile).
 */
export async function resolveChecked(host: string, policy: NetworkPolicy, resolver: Resolver = systemResolver): Promise<{ address: string; family: 4 | 6 }> {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const literal = isIP(bare);
  const addrs = literal ? [{ address: bare, family: literal }] : await resolver(bare);
  if (addrs.length === 0) throw new Error(`${bare}: no address`);
  for (const a of addrs) {
    const why = refusalReason(a.address, policy);
    if (why) throw new BlockedAddressError(literal ? why : `${bare} resolves to ${why}`);
  }
  return { address: addrs[0].address, family: addrs[0].family === 6 ? 6 : 4 };
}
