// Address syntax of the config file, as tables.
import t from 'tap';
import { parseAllowEntry, parseCidr, parseHost, parseHostPort, parseListenEntry } from '../../src/config/net.js';

const hex = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString('hex');

t.test('parseCidr', async (t) => {
  const table: readonly (readonly [string, string | null, (number | undefined)?, (string | undefined)?])[] = [
    // [text, network bytes in hex or null for a failure, prefix length, failure pattern]
    ['203.0.113.0/24', 'cb007100', 24],
    ['203.0.113.7', 'cb007107', 32],
    ['0.0.0.0/0', '00000000', 0],
    ['2001:db8::/32', '20010db8000000000000000000000000', 32],
    ['2001:db8::1', '20010db8000000000000000000000001', 128],
    ['::', '00000000000000000000000000000000', 128],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201', 128],
    ['fe80::1:2:3:4/64', null, undefined, 'host bits'],
    ['203.0.113.5/24', null, undefined, 'the network is 203.0.113.0/24'],
    ['2001:db8::1/32', null, undefined, 'the network is 2001:db8::/32'],
    ['10.0.0.0/33', null, undefined, '0..32'],
    ['10.0.0.0/024', null, undefined, '0..32'],
    ['2001:db8::/129', null, undefined, '0..128'],
    ['10.0.0.256', null],
    ['010.0.0.1', null],
    ['10.0.0', null],
    ['fe80::1%eth0', null],
    ['example.com', null],
    ['', null],
  ];
  for (const [text, bytes, prefix, pattern] of table) {
    const parsed = parseCidr(text);
    if (bytes === null) {
      t.equal(parsed.value, null, `${text} refused`);
      if (pattern !== undefined) t.match(parsed.error, pattern, `${text}: ${pattern}`);
    } else {
      t.equal(hex(parsed.value?.bytes), bytes, `${text} bytes`);
      t.equal(parsed.value?.prefixLength, prefix, `${text} prefix`);
      t.equal(parsed.value?.text, text, `${text} text kept`);
    }
  }
});

t.test('parseAllowEntry', async (t) => {
  const table: readonly (readonly [string, string | null, (number | null)?])[] = [
    ['203.0.113.0/24', '203.0.113.0/24', null],
    ['203.0.113.7:5062', '203.0.113.7', 5062],
    ['[2001:db8::7]:5062', '2001:db8::7', 5062],
    ['[2001:db8::7]', '2001:db8::7', null],
    ['2001:db8::7', '2001:db8::7', null],
    ['2001:db8::/48', '2001:db8::/48', null],
    ['203.0.113.7:0', null],
    ['203.0.113.7:65536', null],
    ['[203.0.113.7]:5060', null],
    ['[2001:db8::7:5062', null],
    ['203.0.113.7:port', null],
  ];
  for (const [text, cidr, port] of table) {
    const parsed = parseAllowEntry(text);
    if (cidr === null) t.equal(parsed.value, null, `${text} refused`);
    else t.same([parsed.value?.cidr.text, parsed.value?.port], [cidr, port], text);
  }
});

t.test('parseListenEntry', async (t) => {
  const table: readonly (readonly [string, string | null, number?, number?])[] = [
    ['0.0.0.0:5060', '0.0.0.0', 5060, 4],
    ['[::]:5060', '::', 5060, 6],
    ['192.0.2.1:65535', '192.0.2.1', 65535, 4],
    ['[2001:db8::1]:1', '2001:db8::1', 1, 6],
    ['0.0.0.0', null],
    ['::', null],
    ['::5060', null],
    ['[::]', null],
    ['0.0.0.0:0', null],
    ['0.0.0.0:65536', null],
    ['0.0.0.0:05060', null],
    ['localhost:5060', null],
    ['[0.0.0.0]:5060', null],
  ];
  for (const [text, host, port, family] of table) {
    const parsed = parseListenEntry(text);
    if (host === null) t.equal(parsed.value, null, `${text} refused`);
    else t.same(parsed.value, { text, host, port, family }, text);
  }
});

t.test('parseHost and parseHostPort', async (t) => {
  const hosts: readonly (readonly [string, string | null])[] = [
    ['sip.carrier.example', 'sip.carrier.example'],
    ['localhost', 'localhost'],
    ['198.51.100.7', '198.51.100.7'],
    ['2001:db8::7', '2001:db8::7'],
    ['[2001:db8::7]', '2001:db8::7'],
    ['sip.example.', 'sip.example.'],
    ['300.1.1.1', null],
    ['bad_host', null],
    ['-bad.example', null],
    ['a..b', null],
    ['sip.example:5060', null],
    ['', null],
    [`${'a'.repeat(64)}.example`, null],
  ];
  for (const [text, host] of hosts) t.equal(parseHost(text).value, host, `host ${JSON.stringify(text)}`);

  const hostPorts: readonly (readonly [string, string | null, (number | null)?])[] = [
    ['proxy.example', 'proxy.example', null],
    ['proxy.example:5070', 'proxy.example', 5070],
    ['198.51.100.7:5060', '198.51.100.7', 5060],
    ['[2001:db8::7]:5060', '2001:db8::7', 5060],
    ['[2001:db8::7]', '2001:db8::7', null],
    ['2001:db8::7', null],
    ['2001:db8::1:5060', null],
    ['proxy.example:0', null],
    ['proxy.example:99999', null],
    ['proxy example', null],
  ];
  for (const [text, host, port] of hostPorts) {
    const parsed = parseHostPort(text);
    if (host === null) t.equal(parsed.value, null, `hostport ${text} refused`);
    else t.same(parsed.value, { host, port }, `hostport ${text}`);
  }
});
