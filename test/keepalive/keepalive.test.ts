import t, { type Test } from 'tap';
import pino from 'pino';
import { natKeepalive, KEEPALIVE_UNREACHABLE_LOGS_PER_ROUND } from '../../src/registrar/keepalive.js';
import { sweepOnce } from '../../src/registrar/sweep.js';
import { bindingsOf, putBinding, queryEvents, formatAddress, type BindingRecord, type Store } from '../../src/store/index.js';
import { counters } from '../../src/stats/counters.js';
import type { Params } from '../../src/config/types.js';
import { makeConfig, makeContext, openStore, tmpDataDir } from '../guard/fixtures/context.js';
import { udpEndpoint, peer, sleep } from './fixtures/udp.js';

function binding(number: string, contactKey: string, over: Partial<BindingRecord>): BindingRecord {
  const now = Date.now();
  return {
    number, aor: `sip:${number}@sipreg.test`, contactKey, contact: contactKey, instance: null,
    source: '127.0.0.2:5062', sourceAddress: '127.0.0.2', sourcePort: 5062, localAddress: '127.0.0.1:5060',
    expiresS: 300, expiresAtMs: now + 300_000, registeredAtMs: now, refreshedAtMs: now, userAgent: 'phone/1',
    account: 'A', nat: true, callId: 'c', cseq: 1, q: null, keepalive: null, ...over,
  };
}

async function setup(t: Test, params: Partial<Params>) {
  const dir = tmpDataDir('sipreg-ka-');
  const store = openStore(dir);
  const ctx = makeContext(store, makeConfig(dir, { natKeepaliveMissedMax: 2, natKeepaliveRemove: false, ...params }));
  const endpoint = await udpEndpoint('127.0.0.1');
  const local = formatAddress(endpoint.sockets[0]!.address, endpoint.sockets[0]!.port);
  const ka = natKeepalive(ctx, endpoint);
  t.teardown(async () => {
    await ka.stop();
    endpoint.close();
    await store.close();
  });
  return { store, ctx, endpoint, local, ka, dir };
}

/** The stored binding of `number` with `contactKey`, or undefined. */
function stored(store: Store, number: string, contactKey: string): BindingRecord | undefined {
  return bindingsOf(store, number).find((b) => b.contactKey === contactKey);
}

async function natBinding(store: Store, local: string, number: string, address: string, port: number): Promise<BindingRecord> {
  const b = binding(number, `sip:${number}@192.168.1.${number.slice(-2)}:5060`, {
    source: `${address}:${port}`, sourceAddress: address, sourcePort: port, localAddress: local,
  });
  await putBinding(store, b);
  return b;
}

t.test('pings every NAT binding at the interval, on its source port, from the listen socket, spread out', async (t) => {
  const { store, endpoint, local, ka, ctx } = await setup(t, { natKeepaliveIntervalS: 1 });
  const peers = await Promise.all(Array.from({ length: 10 }, (_, i) => peer(`127.0.0.${i + 2}`)));
  t.teardown(() => peers.forEach((p) => p.close()));
  for (let i = 0; i < peers.length; i++) await natBinding(store, local, `10${10 + i}`, `127.0.0.${i + 2}`, peers[i]!.port);
  const quiet = await peer('127.0.0.40');
  t.teardown(() => quiet.close());
  await putBinding(store, binding('2000', 'sip:2000@127.0.0.40', { nat: false, sourceAddress: '127.0.0.40', sourcePort: quiet.port }));
  const sent0 = counters.keepalivesSent;
  const answered0 = counters.keepalivesAnswered;
  const startMs = Date.now();
  await ka.start();
  await sleep(3_350);
  await ka.stop();
  await sleep(50); // the last datagrams on their way

  t.equal(quiet.pings.length, 0, 'a binding not behind NAT gets no keepalive');
  for (const [i, p] of peers.entries()) {
    t.ok(p.pings.length >= 3 && p.pings.length <= 4, `peer ${i} got ${p.pings.length} pings in 3.35 s`);
    t.ok(p.pings.every((x) => x.method === 'OPTIONS' && x.fromPort === endpoint.sockets[0]!.port && x.fromAddress === '127.0.0.1'),
      'OPTIONS from the listen socket');
    t.match(p.pings[0]!.requestUri, /^sip:10\d\d@192\.168\.1\.\d+:5060$/, 'to the Contact URI');
    const gaps = p.pings.slice(1).map((x, j) => x.atMs - p.pings[j]!.atMs);
    t.ok(gaps.every((g) => g > 800 && g < 1_250), `peer ${i}: one interval apart (${gaps.join(', ')} ms)`);
  }
  const firsts = peers.map((p) => p.pings[0]!.atMs - startMs).sort((a, b) => a - b);
  t.ok(firsts[firsts.length - 1]! - firsts[0]! >= 700, `first pings spread over the interval (${firsts.join(', ')} ms)`);
  const sent = counters.keepalivesSent - sent0;
  t.equal(sent, peers.reduce((n, p) => n + p.pings.length, 0), 'keepalivesSent counts them');
  t.ok(counters.keepalivesAnswered - answered0 >= sent - peers.length, 'and keepalivesAnswered the answers');
  await ctx.writes.flushNow();
  const kept = stored(store, '1010', 'sip:1010@192.168.1.10:5060');
  t.ok(kept?.keepalive !== null && kept!.keepalive.lastAnsweredAtMs >= startMs, 'the last answer is recorded in the binding');
  t.equal(kept?.keepalive?.missed, 0);
  t.equal(kept?.keepalive?.unreachable, false);
});

t.test('any response counts as an answer; silence makes a binding unreachable, and an answer brings it back', async (t) => {
  const { store, local, ka, ctx } = await setup(t, { natKeepaliveIntervalS: 0.5, natKeepaliveMissedMax: 2 });
  let silent = true;
  const p404 = await peer('127.0.0.50', () => 404);
  const pSilent = await peer('127.0.0.51', () => (silent ? 0 : 200));
  t.teardown(() => { p404.close(); pSilent.close(); });
  await natBinding(store, local, '3050', '127.0.0.50', p404.port);
  const b = await natBinding(store, local, '3051', '127.0.0.51', pSilent.port);
  await ka.start();
  await sleep(1_900); // pings at ~0.5, 1.0, 1.5: two missed by the third
  await ctx.writes.flushNow(); // marks and events go with the service's flush
  const gone = stored(store, b.number, b.contactKey);
  t.equal(gone?.keepalive?.unreachable, true, 'marked unreachable after 2 unanswered pings');
  t.ok((gone?.keepalive?.missed ?? 0) >= 2);
  t.equal(stored(store, '3050', 'sip:3050@192.168.1.50:5060')?.keepalive?.unreachable ?? false, false, 'a 404 proves the pinhole is open');
  t.equal(stored(store, '3050', 'sip:3050@192.168.1.50:5060')?.keepalive?.missed ?? 0, 0);
  const events = queryEvents(store, { type: 'unreachable' });
  t.equal(events.length, 1, 'one unreachable event');
  t.match(events[0], { number: '3051', source: `127.0.0.51:${pSilent.port}`, detail: /SS_ENDPOINT_NAT_KEEPALIVE_MISSED/ });
  t.ok(stored(store, b.number, b.contactKey) !== undefined, 'kept while REMOVE is Off');
  silent = false;
  await sleep(1_100);
  await ctx.writes.flushNow();
  t.same(stored(store, b.number, b.contactKey)?.keepalive?.unreachable, false, 'answering again: reachable');
  t.same(stored(store, b.number, b.contactKey)?.keepalive?.missed, 0);
});

t.test('with REMOVE On an unreachable binding is removed with an event', async (t) => {
  const { store, local, ka, ctx } = await setup(t, { natKeepaliveIntervalS: 0.5, natKeepaliveMissedMax: 1, natKeepaliveRemove: true });
  const p = await peer('127.0.0.60', () => 0);
  t.teardown(() => p.close());
  const b = await natBinding(store, local, '4060', '127.0.0.60', p.port);
  await ka.start();
  await sleep(1_300);
  await ctx.writes.flushNow(); // marks and events go with the service's flush
  t.equal(stored(store, b.number, b.contactKey), undefined, 'removed');
  // Its index entry is a check time (store/bindings.ts): the sweep clears it without an event.
  t.equal((await sweepOnce(store, null, b.expiresAtMs)).removed, 0, 'nothing left for the sweep to expire');
  t.equal(store.expiry.getCount(), 0, 'and its expiry index entry is gone');
  t.match(queryEvents(store, { number: '4060' }).map((e) => e.type), ['unreachable', 'unregistered']);
  t.match(queryEvents(store, { type: 'unregistered' })[0]?.detail, /SS_ENDPOINT_NAT_KEEPALIVE_REMOVE/);
});

t.test('a REGISTER refresh is never clobbered, and resets the misses', async (t) => {
  const { store, local, ka, ctx } = await setup(t, { natKeepaliveIntervalS: 0.5, natKeepaliveMissedMax: 10 });
  const p = await peer('127.0.0.70', () => 0);
  t.teardown(() => p.close());
  const b = await natBinding(store, local, '5070', '127.0.0.70', p.port);
  await ka.start();
  await sleep(1_300); // two pings, one missed: a keepalive write
  await ctx.writes.flushNow();
  t.ok((stored(store, b.number, b.contactKey)?.keepalive?.missed ?? 0) >= 1, 'a miss was written');
  // The registrar refreshes the binding (new expiry, keepalive state reset).
  const current = stored(store, b.number, b.contactKey)!;
  const refreshed = { ...current, refreshedAtMs: Date.now(), expiresAtMs: Date.now() + 600_000, cseq: 2, keepalive: null };
  await putBinding(store, refreshed);
  await sleep(1_100);
  await ctx.writes.flushNow();
  const after = stored(store, b.number, b.contactKey)!;
  t.equal(after.expiresAtMs, refreshed.expiresAtMs, 'the refresh kept its expiry');
  t.equal(after.cseq, 2);
  t.ok((after.keepalive?.missed ?? 0) <= 2, `misses counted again from the refresh (${after.keepalive?.missed})`);
  t.equal(after.keepalive?.unreachable ?? false, false);
});

t.test('reload applies a new interval, 0 turns it off', async (t) => {
  const { store, local, ka, dir, ctx } = await setup(t, { natKeepaliveIntervalS: 1 });
  const p = await peer('127.0.0.80');
  t.teardown(() => p.close());
  await natBinding(store, local, '6080', '127.0.0.80', p.port);
  await ka.start();
  const faster = makeConfig(dir, { natKeepaliveIntervalS: 0.25 });
  ctx.setConfig(faster);
  await ka.reload(faster, faster);
  await sleep(1_100);
  t.ok(p.pings.length >= 3, `0.25 s interval applied (${p.pings.length} pings in 1.1 s)`);
  const off = makeConfig(dir, { natKeepaliveIntervalS: 0 });
  ctx.setConfig(off);
  await ka.reload(off, faster);
  const n = p.pings.length;
  await sleep(700);
  t.equal(p.pings.length, n, 'off: no more pings');
  t.equal(ka.stats().inFlight, 0, 'pings in flight released');
});

t.test('tens of thousands of bindings: one timer, pings spread evenly', async (t) => {
  const { store, local, ka, endpoint } = await setup(t, { natKeepaliveIntervalS: 4 });
  // Sends are only recorded here: this test is about the schedule, the others about the wire (20,000
  // datagrams in 4 s outrun one loopback socket's receive buffer on a loaded 2-core box anyway).
  const sentAtMs: number[] = [];
  endpoint.send = () => { sentAtMs.push(Date.now()); };
  const count = 20_000;
  for (let i = 0; i < count; i++) {
    void putBinding(store, binding(`7${String(i).padStart(5, '0')}`, `sip:x${i}@10.0.${i >> 8 & 255}.${i & 255}`, {
      sourceAddress: '127.0.0.90', sourcePort: 5062, source: '127.0.0.90:5062', localAddress: local,
    }));
  }
  await store.bindings.committed;
  const startMs = Date.now();
  await ka.start();
  await sleep(6_000);
  const firstRound = sentAtMs.slice(0, count);
  t.equal(sentAtMs.length >= count, true, `${sentAtMs.length} pings in 1.5 intervals`);
  const spanMs = firstRound[firstRound.length - 1]! - startMs;
  t.ok(spanMs > 3_400 && spanMs < 5_000, `the first round took ${spanMs} ms of a 4,000 ms interval`);
  // Per 400 ms window of the first round: even spread, no burst (a burst would be 10x the mean).
  const windows = new Array<number>(10).fill(0);
  for (const atMs of firstRound) windows[Math.min(9, Math.floor((atMs - startMs) / 400))]!++;
  const max = Math.max(...windows);
  t.ok(max <= (count / 10) * 3, `busiest 400 ms window ${max} (even: ${count / 10}); windows ${windows.join(' ')}`);
  t.ok(ka.stats().peers >= count);
  const mem = process.memoryUsage().heapUsed;
  t.ok(mem < 400 * 1024 * 1024, `heap ${Math.round(mem / 1e6)} MB`);
});

t.test('bindings added during a round (a registration storm) are pinged over the next ticks, never in one burst', async (t) => {
  const { store, local, ka, endpoint } = await setup(t, { natKeepaliveIntervalS: 4 });
  const sentAtMs: number[] = [];
  endpoint.send = () => { sentAtMs.push(performance.now()); };
  await ka.start();   // an empty store: the first round counts 0 bindings
  await sleep(1_000);
  const count = 5_000;
  const addedAtMs = performance.now();
  for (let i = 0; i < count; i++) {
    void putBinding(store, binding(`8${String(i).padStart(5, '0')}`, `sip:y${i}@10.1.${i >> 8 & 255}.${i & 255}`, {
      sourceAddress: '127.0.0.91', sourcePort: 5062, source: '127.0.0.91:5062', localAddress: local,
    }));
  }
  await store.bindings.committed;
  await sleep(9_000);
  await ka.stop();
  t.ok(sentAtMs.length >= count, `every new binding pinged within 9 s of its registration (${sentAtMs.length} pings)`);
  // One tick's pings leave together (synchronously): the most within any 20 ms is one tick's walk.
  let burst = 0;
  for (let i = 0, j = 0; i < sentAtMs.length; i++) {
    while (sentAtMs[i]! - sentAtMs[j]! > 20) j++;
    burst = Math.max(burst, i - j + 1);
  }
  t.ok(burst <= 1_000, `at most one bounded share a tick (most in 20 ms: ${burst} of ${count}; before, the round's end walked them all at once)`);
  t.ok(sentAtMs[0]! - addedAtMs < 4_500, 'the first of them within the round they were added in');
});

t.test('a whole site going silent: its marks are written over a few flushes, never all in one', async (t) => {
  const { store, local, ka, ctx, endpoint } = await setup(t, { natKeepaliveIntervalS: 0.5, natKeepaliveMissedMax: 1 });
  endpoint.send = () => {};   // nobody answers
  const lines: { msg: string; more?: number }[] = [];
  (ctx as { log: unknown }).log = pino({ level: 'info' }, { write: (line: string) => { lines.push(JSON.parse(line) as { msg: string }); } });
  const count = 1_500;
  for (let i = 0; i < count; i++) {
    void putBinding(store, binding(`9${String(i).padStart(5, '0')}`, `sip:z${i}@10.2.${i >> 8 & 255}.${i & 255}`, {
      sourceAddress: '127.0.0.92', sourcePort: 5062, source: '127.0.0.92:5062', localAddress: local,
    }));
  }
  await store.bindings.committed;
  await ka.start();
  await sleep(1_400);   // two rounds: every binding missed its first ping, so is unreachable
  await ka.stop();
  const unreachable = (): number => {
    let n = 0;
    for (let i = 0; i < count; i++) if (stored(store, `9${String(i).padStart(5, '0')}`, `sip:z${i}@10.2.${i >> 8 & 255}.${i & 255}`)?.keepalive?.unreachable === true) n++;
    return n;
  };
  await ctx.writes.flushNow();
  const first = unreachable();
  t.equal(first, 1_000, `the first flush writes KEEPALIVE_MARKS_PER_FLUSH_MAX (1,000) of the ${count} flips`);
  await ctx.writes.flushNow();
  t.equal(unreachable(), count, 'the next flush the rest');
  t.equal(queryEvents(store, { type: 'unreachable', limit: 10_000 }).length, count, 'each is an unreachable event');
  // The journal gets KEEPALIVE_UNREACHABLE_LOGS_PER_ROUND lines a round and one count of the rest.
  const each = lines.filter((l) => l.msg === 'NAT binding unreachable').length;
  const counted = lines.filter((l) => l.more !== undefined).reduce((n, l) => n + l.more!, 0);
  t.ok(each >= KEEPALIVE_UNREACHABLE_LOGS_PER_ROUND && each <= 3 * KEEPALIVE_UNREACHABLE_LOGS_PER_ROUND,
    `${each} lines of their own (${KEEPALIVE_UNREACHABLE_LOGS_PER_ROUND} a round), not ${count}`);
  t.equal(each + counted, count, 'and the rest counted in a line a round');
  t.ok(lines.length <= 6 * KEEPALIVE_UNREACHABLE_LOGS_PER_ROUND, `${lines.length} log lines in all`);
});
