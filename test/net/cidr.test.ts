import t from 'tap';
import { parseCidr } from '../../src/config/net.js';
import type { Cidr } from '../../src/config/types.js';
import { CidrMatcher } from '../../src/net/index.js';

function cidrs(...texts: string[]): Cidr[] {
  return texts.map((text) => {
    const p = parseCidr(text);
    if (p.value === null) throw new Error(p.error);
    return p.value;
  });
}

t.test('matches IPv4, IPv6 and v4-mapped sources', async (t) => {
  const m = new CidrMatcher(cidrs('10.0.0.0/8', '192.168.1.0/24', '203.0.113.7', '2001:db8::/32', 'fd00::/8', '::ffff:198.51.100.0/120'));
  const table: [string, boolean][] = [
    ['10.255.1.1', true],
    ['11.0.0.1', false],
    ['192.168.1.200', true],
    ['192.168.2.1', false],
    ['203.0.113.7', true],
    ['203.0.113.8', false],
    ['::ffff:10.1.2.3', true],          // dual-stack socket reporting an IPv4 peer
    ['::ffff:203.0.113.7', true],
    ['198.51.100.77', true],            // a v4-mapped IPv6 range matches the IPv4 address
    ['198.51.101.1', false],
    ['2001:db8:1::5', true],
    ['2001:db9::5', false],
    ['fd12::1', true],
    ['fe80::1', false],
    ['not an address', false],
  ];
  for (const [address, want] of table) t.equal(m.matches(address), want, address);
});

t.test('edge prefixes', async (t) => {
  t.equal(new CidrMatcher(cidrs('0.0.0.0/0')).matches('8.8.8.8'), true, '/0 matches all of IPv4');
  t.equal(new CidrMatcher(cidrs('0.0.0.0/0')).matches('::1'), false, 'but not IPv6');
  t.equal(new CidrMatcher(cidrs('::/0')).matches('2a00::1'), true);
  t.equal(new CidrMatcher(cidrs('2001:db8::1')).matches('2001:db8::1'), true, '/128');
  t.equal(new CidrMatcher(cidrs('2001:db8::1')).matches('2001:db8::2'), false);
  t.equal(new CidrMatcher(cidrs('2001:db8:8000::/33')).matches('2001:db8:ffff::1'), true, 'a prefix not on a word boundary');
  t.equal(new CidrMatcher(cidrs('2001:db8:8000::/33')).matches('2001:db8:7fff::1'), false);
  const empty = new CidrMatcher([]);
  t.equal(empty.size, 0);
  t.equal(empty.matches('10.0.0.1'), false);
});

t.test('a long deny list costs one probe per prefix length', async (t) => {
  const list: string[] = [];
  for (let i = 0; i < 5000; i++) list.push(`100.${(i >> 8) & 0xff}.${i & 0xff}.1`);
  const m = new CidrMatcher(cidrs(...list));
  t.equal(m.matches('100.19.135.1'), true);
  t.equal(m.matches('100.19.135.2'), false);
  const start = process.hrtime.bigint();
  let hits = 0;
  for (let i = 0; i < 200_000; i++) if (m.matches('100.1.2.1')) hits++;
  const ns = Number(process.hrtime.bigint() - start) / 200_000;
  t.equal(hits, 200_000);
  t.ok(ns < 20_000, `~${ns.toFixed(0)} ns per match (bound generous for a loaded CI box)`);
});
