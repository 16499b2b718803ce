import t from 'tap';
import { allowMatches, isPrivateHost, looksNatted } from '../../src/registrar/addr.js';
import { parseAllowEntry } from '../../src/config/net.js';
import type { AllowEntry } from '../../src/config/types.js';

function allow(...texts: string[]): AllowEntry[] {
  return texts.map((x) => { const p = parseAllowEntry(x); if (p.value === null) throw new Error(p.error); return p.value; });
}

t.test('allow lists', async (t) => {
  const rows: [AllowEntry[], string, number, boolean][] = [
    [[], '198.51.100.1', 5060, true],
    [allow('127.0.0.0/8'), '127.3.4.5', 5060, true],
    [allow('127.0.0.0/8'), '10.0.0.1', 5060, false],
    [allow('127.0.0.1:5062'), '127.0.0.1', 5062, true],
    [allow('127.0.0.1:5062'), '127.0.0.1', 5063, false],
    [allow('203.0.113.0/25'), '203.0.113.127', 1, true],
    [allow('203.0.113.0/25'), '203.0.113.128', 1, false],
    [allow('::1'), '::1', 5060, true],
    [allow('2001:db8::/32'), '2001:db8:1::5', 5060, true],
    [allow('2001:db8::/32'), '2001:db9::5', 5060, false],
    [allow('127.0.0.0/8'), '::ffff:127.0.0.9', 5060, true],
    [allow('10.0.0.0/8'), 'not-an-address', 5060, false],
  ];
  for (const [list, address, port, expected] of rows) {
    t.equal(allowMatches(list, address, port), expected, `${list.map((e) => e.cidr.text + (e.port === null ? '' : ':' + e.port)).join(',') || 'any'} ${address}:${port}`);
  }
});

t.test('private hosts and NAT detection', async (t) => {
  for (const h of ['10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.20', '100.64.0.1', '169.254.1.1', 'fd00::1', '[fe80::1]']) {
    t.ok(isPrivateHost(h), `${h} is private`);
  }
  for (const h of ['127.0.0.1', '172.32.0.1', '8.8.8.8', '2001:db8::1', 'pbx.example.com']) t.notOk(isPrivateHost(h), `${h} is not`);
  t.notOk(looksNatted('127.0.0.1', 5062, '127.0.0.1', 5062), 'same address and port');
  t.notOk(looksNatted('127.0.0.1', -1, '127.0.0.1', 5060), 'no port means 5060');
  t.ok(looksNatted('192.168.1.20', 5060, '127.0.0.1', 5060), 'private contact');
  t.ok(looksNatted('127.0.0.1', 5060, '127.0.0.1', 40000), 'port moved');
  t.ok(looksNatted('127.0.0.2', 5060, '127.0.0.1', 5060), 'address differs');
  t.notOk(looksNatted('[::1]', 5060, '::1', 5060), 'IPv6 brackets');
});
