// The wire counters reach the service's counters (stats/counters.ts: `sipreg stats`, the console, the
// Prometheus textfile), each counted once: oversize datagrams by the transport, parse failures by the
// service, every datagram received by the transport.
import t from 'tap';
import dgram from 'node:dgram';
import { counters } from '../../src/stats/counters.js';
import { limits } from '../../src/limits.js';
import { renderTextfile } from '../../src/stats/prometheus.js';
import { countersLines } from '../../src/ops/counters.js';
import { startHarness } from './harness.js';
import { until } from '../helpers/wait.js';

t.test('oversize, malformed and good datagrams are each counted once', async (t) => {
  const h = await startHarness('accounts:\n  - { number: "1001", auth_mode: ip, allow: ["127.0.0.0/8"] }\n');
  t.teardown(() => h.close());
  const before = { ...counters };
  const client = dgram.createSocket('udp4');
  t.teardown(() => client.close());
  const send = (b: Buffer): Promise<void> => new Promise((resolve) => client.send(b, h.port, '127.0.0.1', () => resolve()));
  await send(Buffer.alloc(limits.messageSizeMax + 1, 0x41));
  await send(Buffer.alloc(limits.messageSizeMax + 100, 0x41));
  await send(Buffer.from('not sip at all\r\n\r\n'));
  await until('the three datagrams', () => counters.datagramsReceived - before.datagramsReceived >= 3 && counters.parseFailures > before.parseFailures, 2000);
  t.equal(counters.datagramsReceived - before.datagramsReceived, 3, 'three received');
  t.equal(counters.datagramsOversize - before.datagramsOversize, 2, 'two oversize');
  t.equal(counters.parseFailures - before.parseFailures, 1, 'one malformed');
  t.match(renderTextfile(counters, {
    up: true, startTimeS: 0, bindings: 0, bindingsNat: 0, lockoutsActive: 0, trunksRegistered: 0, trunksConfigured: 0,
  }), new RegExp(`\\nsipreg_datagrams_oversize_total ${counters.datagramsOversize}\\n`), 'in the Prometheus textfile');
  const lines = countersLines({ atMs: Date.now(), startedAtMs: 0, pid: 1, values: { ...counters }, storeWriteFailedAtMs: null }).join('\n');
  t.match(lines, /datagrams_oversize +\d+/, 'in sipreg stats and the console');
  t.match(lines, /send_errors +\d+/);
});
