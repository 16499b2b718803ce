// The one listen-address parser: what the config file accepts for sip.listen and the transport binds.
import t from 'tap';
import { parseListenAddress } from '../../src/sip/index.js';

t.test('IPv4:port and [IPv6]:port, the port required', async (t) => {
  const table: readonly (readonly [string, string | null, number?, number?])[] = [
    ['0.0.0.0:5060', '0.0.0.0', 5060, 4],
    ['[::]:5070', '::', 5070, 6],
    ['192.0.2.1:65535', '192.0.2.1', 65535, 4],
    ['[2001:db8::1]:1', '2001:db8::1', 1, 6],
    ['[::ffff:192.0.2.1]:5060', '::ffff:192.0.2.1', 5060, 6],
  ];
  for (const [text, host, port, family] of table) {
    t.strictSame(parseListenAddress(text), { text, host, port, family }, text);
  }
});

t.test('refusals: the form, or the port (a bad port is named before a bad host)', async (t) => {
  const table: readonly (readonly [string, 'form' | 'port'])[] = [
    ['0.0.0.0', 'form'],            // no port: nothing defaults
    ['[::1]', 'form'],
    ['::1:5060', 'form'],           // IPv6 without brackets reads both ways
    ['::', 'form'],
    ['[::1]5060', 'form'],
    ['[::1:5060', 'form'],
    ['[0.0.0.0]:5060', 'form'],     // brackets are for IPv6
    ['[fe80::1%eth0]:5060', 'form'], // a zone names an interface of one boot
    ['host.example:5060', 'form'],  // a socket binds an address, not a name
    ['010.0.0.1:5060', 'form'],
    ['', 'form'],
    ['0.0.0.0:0', 'port'],
    ['0.0.0.0:65536', 'port'],
    ['0.0.0.0:05060', 'port'],
    ['0.0.0.0:+5060', 'port'],
    ['1.2.3.4:x', 'port'],
    ['[::1]:', 'port'],
    ['host.example:99999', 'port'],
  ];
  for (const [text, refusal] of table) t.equal(parseListenAddress(text), refusal, text);
});

t.test('portMin 0 lets the system pick the port', async (t) => {
  t.strictSame(parseListenAddress('127.0.0.1:0', 0), { text: '127.0.0.1:0', host: '127.0.0.1', port: 0, family: 4 });
  t.strictSame(parseListenAddress('[::1]:0', 0), { text: '[::1]:0', host: '::1', port: 0, family: 6 });
  t.equal(parseListenAddress('127.0.0.1:00', 0), 'port');
});
