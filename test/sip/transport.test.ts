import t from 'tap';
import dgram from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { once } from 'node:events';
import {
  SipTransport, TransportError, SipMessage, parse, ResponseWriter, responseTarget, type ResponseTarget,
} from '../../src/sip/index.js';
import { limits } from '../../src/limits.js';
import { listenAt, register } from './helpers.js';

// One module-level handler, as the registrar would register: parse, answer 200 from a slot.
const msg = new SipMessage();
const writer = new ResponseWriter();
const target: ResponseTarget = { address: '', port: 0 };
let transport: SipTransport;
let handled = 0;
let parseFailures = 0; // the handler's own count, as the service keeps it in stats/counters.ts
function onDatagram(buf: Buffer, rinfo: RemoteInfo, socketIndex: number): void {
  handled++;
  if (parse(msg, buf) !== null) { parseFailures++; return; }
  const slot = transport.acquire();
  if (slot === null) return;
  const n = writer.begin(slot.buf, msg, 200, 'OK', rinfo).finish();
  if (typeof n === 'string') { transport.releaseUnsent(slot); return; }
  responseTarget(msg, rinfo, target);
  transport.send(slot, n, target.port, target.address, socketIndex);
}

t.test('UDP on 127.0.0.1 and ::1: receive, answer from a slot, counters', async (t) => {
  transport = new SipTransport(listenAt('127.0.0.1:0', '[::1]:0'), 4);
  transport.onDatagram(onDatagram);
  await transport.start();
  t.equal(transport.socketCount, 2);
  const v4 = transport.localAddress(0);
  const v6 = transport.localAddress(1);
  t.equal(v4.address, '127.0.0.1');
  t.equal(v6.address, '::1');
  t.ok(v4.port > 0 && v6.port > 0);
  t.equal(transport.socketFor('::1'), 1);
  t.equal(transport.socketFor('10.0.0.1'), 0);

  for (const [type, host, port] of [['udp4', '127.0.0.1', v4.port], ['udp6', '::1', v6.port]] as const) {
    const client = dgram.createSocket(type);
    await new Promise<void>((resolve) => client.bind(0, host, resolve));
    const clientPort = client.address().port;
    client.send(register({ viaHost: '10.9.8.7' }), port, host);
    const [reply] = (await once(client, 'message')) as [Buffer, RemoteInfo];
    const text = reply.toString('latin1');
    t.match(text, /^SIP\/2\.0 200 OK\r\n/, `${type}: answered`);
    t.match(text, new RegExp(`;rport=${clientPort};received=${host.replace(/\./g, '\\.')}\r\n`), `${type}: rport and received filled in`);
    // Oversize and garbage are counted, not answered.
    await new Promise((resolve) => client.send(Buffer.alloc(limits.messageSizeMax + 1, 0x41), port, host, resolve));
    await new Promise((resolve) => client.send(Buffer.from('not sip at all'), port, host, resolve));
    client.close();
  }
  const deadline = Date.now() + 2000;
  while ((transport.counters.datagramsOversize < 2 || parseFailures < 2) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 10));
  }
  t.equal(transport.counters.datagramsReceived, 6);
  t.equal(transport.counters.datagramsOversize, 2);
  t.equal(parseFailures, 2);
  t.equal(handled, 4);
  t.equal(transport.counters.sendErrors, 0);
  t.equal(transport.freeSlotCount, 4, 'every slot is back after its send callback');
  await transport.close();
  await transport.close(); // idempotent
});

t.test('slots: bounded, reused only after release, none free is counted', async (t) => {
  const tr = new SipTransport(listenAt('127.0.0.1:0'), 2, 512);
  const a = tr.acquire();
  const b = tr.acquire();
  t.ok(a !== null && b !== null && a.index !== b.index);
  t.equal(tr.acquire(), null);
  t.equal(tr.counters.sendDropsNoSlot, 1);
  tr.releaseUnsent(a!);
  const c = tr.acquire();
  t.equal(c!.index, a!.index, 'the released slot comes back');
  t.equal(c!.buf.length, 512);
  await tr.close();
});

t.test('bind errors name the address', async (t) => {
  const first = new SipTransport(listenAt('127.0.0.1:0'));
  await first.start();
  const port = first.localAddress(0).port;
  const second = new SipTransport(listenAt(`127.0.0.1:${port}`));
  try {
    await t.rejects(second.start(), { name: 'TransportError', code: 'ERR_SIP_BIND', message: `cannot bind UDP 127.0.0.1:${port}: EADDRINUSE (another process holds the port)` });
  } finally {
    await first.close();
  }
  if (process.getuid?.() !== 0) {
    const low = new SipTransport(listenAt('127.0.0.1:1'));
    await t.rejects(low.start(), { code: 'ERR_SIP_BIND', message: /^cannot bind UDP 127\.0\.0\.1:1: EACCES/ });
  }
  const noSuchAddress = new SipTransport(listenAt('192.0.2.123:0')); // TEST-NET-1: not configured here
  await t.rejects(noSuchAddress.start(), { code: 'ERR_SIP_BIND', message: /^cannot bind UDP 192\.0\.2\.123:0: EADDRNOTAVAIL/ });
  t.ok(new TransportError('ERR_SIP_BIND', 'x') instanceof Error);
});

// RFC 3261 §18.2.2: without rport/received a response goes to the Via's sent-by, which may be a name.
// IP destinations are sent without a DNS step; a name still resolves (here "localhost").
t.test('responses go to an IP as given and to a Via host name once resolved', async (t) => {
  const tr = new SipTransport(listenAt('127.0.0.1:0'));
  await tr.start();
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
  const port = peer.address().port;
  try {
    const got: string[] = [];
    peer.on('message', (b) => got.push(b.toString()));
    const byIp = tr.acquire()!;
    byIp.buf.write('by-ip');
    tr.send(byIp, 5, port, '127.0.0.1', 0);
    const byName = tr.acquire()!;
    byName.buf.write('by-name');
    tr.send(byName, 7, port, 'localhost', 0);
    while (got.length < 2) await once(peer, 'message');
    t.strictSame(got.sort(), ['by-ip', 'by-name']);
    while (tr.freeSlotCount < limits.responseSlotCount) await new Promise((r) => setImmediate(r));
    t.equal(tr.counters.sendErrors, 0, 'both sends completed, both slots back');
  } finally {
    peer.close();
    await tr.close();
  }
});

// The kernel queue in front of each socket: what was asked, unless net.core.rmem_max caps it (then the
// service warns at start). Bursts beyond it are dropped by the kernel, not seen by the service.
t.test('receive buffer: the size asked, capped at net.core.rmem_max', async (t) => {
  const rmemMax = Number((await import('node:fs')).readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
  const small = new SipTransport(listenAt('127.0.0.1:0'), 4, 512, 64 * 1024);
  await small.start();
  t.equal(small.receiveBufferSize(0), Math.min(64 * 1024, rmemMax), 'a size under the cap is granted as asked');
  await small.close();
  const huge = new SipTransport(listenAt('127.0.0.1:0'), 4, 512, rmemMax * 4);
  await huge.start();
  t.equal(huge.receiveBufferSize(0), rmemMax, 'more than rmem_max is capped, and reported as such');
  t.ok(huge.receiveBufferSize(0) < huge.receiveBufferWanted);
  await huge.close();
  const standard = new SipTransport(listenAt('127.0.0.1:0', '[::1]:0'));
  await standard.start();
  for (const i of [0, 1]) t.equal(standard.receiveBufferSize(i), Math.min(limits.socketReceiveBufferSize, rmemMax), `socket ${i}`);
  await standard.close();
});

t.test('a destination node:dgram refuses (port 0) costs the answer, not the process, and frees the slot', async (t) => {
  const tr = new SipTransport(listenAt('127.0.0.1:0'), 2);
  tr.onDatagram(() => {});
  await tr.start();
  t.teardown(() => tr.close());
  const free = tr.freeSlotCount;
  const slot = tr.acquire()!;
  slot.buf.write('SIP/2.0 200 OK\r\n\r\n');
  t.doesNotThrow(() => tr.send(slot, 19, 0, '127.0.0.1', 0));
  await new Promise((r) => setImmediate(r));   // the turn's queued answers go out
  t.equal(tr.freeSlotCount, free, 'the slot is back');
  t.equal(tr.counters.sendErrors, 1, 'counted as a send error');
});

// Answers written during one event-loop turn are queued and handed to the kernel together at its end
// (one wake-up of the receiver for the batch), in the order written; close() still sends what is queued.
t.test('answers of one turn leave together at its end, in order; close sends what is queued', async (t) => {
  const tr = new SipTransport(listenAt('127.0.0.1:0'), 8);
  await tr.start();
  const peer = dgram.createSocket('udp4');
  await new Promise<void>((r) => peer.bind(0, '127.0.0.1', r));
  const port = peer.address().port;
  const got: string[] = [];
  peer.on('message', (b) => got.push(b.toString()));
  const sendText = (text: string): void => {
    const slot = tr.acquire()!;
    slot.buf.write(text, 'latin1');
    tr.send(slot, text.length, port, '127.0.0.1', 0);
  };
  try {
    for (const text of ['one', 'two', 'three']) sendText(text);
    t.equal(tr.freeSlotCount, 5, 'queued: the slots stay taken until sent');
    while (got.length < 3) await once(peer, 'message');
    t.strictSame(got, ['one', 'two', 'three'], 'in the order written');
    while (tr.freeSlotCount < 8) await new Promise((r) => setImmediate(r));
    sendText('last');
    await tr.close();
    while (got.length < 4) await once(peer, 'message');
    t.equal(got[3], 'last', 'queued before close: sent');
    t.equal(tr.counters.sendErrors, 0);
  } finally {
    peer.close();
    await tr.close();
  }
});

// The send path's IPv4 check (a loop instead of net.isIP's expression, once per answer) accepts exactly
// what net.isIPv4 accepts among dotted strings, so no name is ever sent to unresolved and no IP to DNS.
t.test('isDottedQuad agrees with net.isIPv4', async (t) => {
  const { isIPv4 } = await import('node:net');
  const { isDottedQuad } = await import('../../src/sip/transport.js');
  const cases = ['127.0.0.1', '0.0.0.0', '255.255.255.255', '256.1.1.1', '01.1.1.1', '1.1.1', '1.1.1.1.', '1..1.1', '.1.1.1',
    'a.b.c.d', '1.1.1.1.1', '192.168.001.1', '1.2.3.04', '::1', '::ffff:1.2.3.4', 'localhost', '1.2.3.255x', '1.2.3.-1', ''];
  let seed = 1;
  const rand = (n: number): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let k = 0; k < 20_000; k++) {
    const parts: string[] = [];
    for (let j = 0, np = 1 + rand(5); j < np; j++) parts.push(rand(10) === 0 ? '' : rand(10) === 0 ? `0${rand(30)}` : String(rand(300)));
    cases.push(parts.join(rand(30) === 0 ? ':' : '.'));
  }
  const wrong = cases.filter((c) => isDottedQuad(c) !== isIPv4(c));
  t.strictSame(wrong, [], `${cases.length} strings`);
});
