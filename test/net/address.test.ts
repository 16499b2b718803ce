import t from 'tap';
import {
  ByteChars, parseAddress, parseIPv4, normalizeAddress, classifyAddress, isPrivateOrUnroutable, sameAddress, type AddressClass,
} from '../../src/net/index.js';

function parsed(text: string): string {
  const out = new Uint8Array(16);
  const family = parseAddress(text, out);
  if (family === 0) return 'invalid';
  return `${family}:${Array.from(out.subarray(0, family === 4 ? 4 : 16)).join('.')}`;
}

t.test('IPv4 literals', async (t) => {
  const table: [string, string][] = [
    ['127.0.0.1', '4:127.0.0.1'],
    ['0.0.0.0', '4:0.0.0.0'],
    ['255.255.255.255', '4:255.255.255.255'],
    ['192.168.1.20', '4:192.168.1.20'],
    ['256.1.1.1', 'invalid'],
    ['1.2.3', 'invalid'],
    ['1.2.3.4.5', 'invalid'],
    ['01.2.3.4', 'invalid'],      // leading zero: octal to some parsers
    ['1..3.4', 'invalid'],
    ['1.2.3.4 ', 'invalid'],
    ['', 'invalid'],
    ['example.com', 'invalid'],
  ];
  for (const [text, want] of table) t.equal(parsed(text), want, text);
  t.equal(parseIPv4('10.0.0.1', 0, 8), 0x0a000001);
});

t.test('IPv6 literals, v4-mapped folded into IPv4, zones ignored', async (t) => {
  const table: [string, string][] = [
    ['::1', '6:0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1'],
    ['::', '6:0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0'],
    ['2001:db8::7', '6:32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.7'],
    ['2001:0db8:0:0:0:0:0:7', '6:32.1.13.184.0.0.0.0.0.0.0.0.0.0.0.7'],
    ['fe80::1%eth0', '6:254.128.0.0.0.0.0.0.0.0.0.0.0.0.0.1'],
    ['1::', '6:0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0'],
    ['::ffff:127.0.0.2', '4:127.0.0.2'],
    ['::FFFF:192.168.1.1', '4:192.168.1.1'],
    ['::ffff:c0a8:101', '4:192.168.1.1'],
    ['64:ff9b::192.0.2.33', '6:0.100.255.155.0.0.0.0.0.0.0.0.192.0.2.33'],
    [':::1', 'invalid'],
    ['1::2::3', 'invalid'],
    ['1:2:3:4:5:6:7', 'invalid'],
    ['1:2:3:4:5:6:7:8:9', 'invalid'],
    ['12345::1', 'invalid'],
    ['1:', 'invalid'],
    [':1', 'invalid'],
    ['g::1', 'invalid'],
    ['::ffff:300.1.1.1', 'invalid'],
  ];
  for (const [text, want] of table) t.equal(parsed(text), want, text);
  const out = new Uint8Array(16);
  t.equal(parseAddress('[::1]', out, 1, 4), 6, 'a range inside a string');
});

t.test('classification', async (t) => {
  const table: [string, AddressClass, boolean][] = [
    ['10.1.2.3', 'private', true],
    ['172.16.0.1', 'private', true],
    ['172.31.255.255', 'private', true],
    ['172.32.0.1', 'public', false],
    ['192.168.1.20', 'private', true],
    ['100.64.0.1', 'cgnat', true],
    ['100.127.255.255', 'cgnat', true],
    ['100.128.0.1', 'public', false],
    ['169.254.10.1', 'link_local', true],
    ['127.0.0.2', 'loopback', false],   // a phone on the box itself is not behind a NAT
    ['::1', 'loopback', false],
    ['0.0.0.0', 'unspecified', true],
    ['::', 'unspecified', true],
    ['224.0.0.1', 'multicast', false],
    ['255.255.255.255', 'reserved', true],
    ['198.18.0.5', 'reserved', true],
    ['192.0.2.7', 'documentation', false],
    ['203.0.113.9', 'documentation', false],
    ['8.8.8.8', 'public', false],
    ['fd12:3456::1', 'ula', true],
    ['fc00::1', 'ula', true],
    ['fe80::1', 'link_local', true],
    ['fec0::1', 'private', true],
    ['[fd00::5]', 'ula', true],
    ['2001:db8::1', 'documentation', false],
    ['2a00:1450::1', 'public', false],
    ['ff02::1', 'multicast', false],
    ['::ffff:192.168.0.9', 'private', true],
    ['::ffff:127.0.0.1', 'loopback', false],
    ['phone.example.com', 'not_ip', false],
  ];
  for (const [text, cls, nat] of table) {
    t.equal(classifyAddress(text), cls, text);
    t.equal(isPrivateOrUnroutable(classifyAddress(text)), nat, `${text} private or unroutable`);
  }
});

t.test('normalising and comparing', async (t) => {
  t.equal(normalizeAddress('::ffff:127.0.0.2'), '127.0.0.2');
  t.equal(normalizeAddress('::FFFF:10.0.0.1'), '10.0.0.1');
  t.equal(normalizeAddress('127.0.0.2'), '127.0.0.2');
  t.equal(normalizeAddress('2001:db8::1'), '2001:db8::1');
  t.equal(normalizeAddress('::ffff:c0a8:101'), '::ffff:c0a8:101', 'only the dotted form is rewritten');
  t.ok(sameAddress('::ffff:127.0.0.2', '127.0.0.2'));
  t.ok(sameAddress('2001:db8::1', '[2001:0db8:0::1]'));
  t.ok(sameAddress('10.0.0.1', '10.0.0.1'));
  t.notOk(sameAddress('10.0.0.1', '10.0.0.2'));
  t.notOk(sameAddress('::1', '127.0.0.1'));
  t.notOk(sameAddress('host', 'host'), 'names are not addresses');
});

t.test('the parsers read bytes of a datagram through ByteChars as they read strings', async (t) => {
  const buf = Buffer.from('Via: SIP/2.0/UDP [2001:db8::7]:5062 192.168.1.20 10.0.0.1x');
  const chars = new ByteChars();
  t.equal(classifyAddress(chars.of(buf, 17, 30)), classifyAddress('[2001:db8::7]'));
  t.equal(sameAddress(chars.of(buf, 17, 30), '2001:0db8:0:0::7'), true);
  t.equal(classifyAddress(chars.of(buf, 36, 48)), 'private');
  t.equal(sameAddress(chars.of(buf, 36, 48), '192.168.1.20'), true);
  t.equal(sameAddress(chars.of(buf, 49, 58), '10.0.0.1'), false, 'a stray byte after the address: not an IP literal');
  t.equal(classifyAddress(chars.of(buf, -1, -1)), 'not_ip', 'an absent range');
});
