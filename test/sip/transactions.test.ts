import t from 'tap';
import { ServerTransactions, SipMessage, parse, ResponseWriter } from '../../src/sip/index.js';
import { limits, transactionCacheFor } from '../../src/limits.js';
import { TIMER_J_MS } from '../../src/sip/timers.js';
import { register, sip } from './helpers.js';

const msg = new SipMessage();
const writer = new ResponseWriter();
const slot = Buffer.alloc(limits.responseSizeMax);
const src = { address: '203.0.113.5', port: 40000 };

function load(buf: Buffer): SipMessage {
  const failure = parse(msg, buf);
  if (failure !== null) throw new Error(failure);
  return msg;
}

t.test('retransmissions: absorbed while in progress, answered from the cache after', async (t) => {
  const tx = new ServerTransactions(8);
  const now = 1_000_000;
  t.equal(tx.receive(load(register()), src, now), 'new');
  const handle = tx.handle;
  // The first copy waits for its commit; a retransmission arrives meanwhile (RFC 3261 §17.2.2).
  t.equal(tx.receive(load(register()), src, now + 500), 'in-progress');
  const n = writer.begin(slot, load(register()), 200, 'OK', src).finish() as number;
  t.ok(tx.complete(handle, slot, n, now + 600));
  const original = Buffer.from(slot.subarray(0, n));
  // Retransmissions within Timer J get the same bytes (and so the same To tag).
  const resend = Buffer.alloc(limits.responseSizeMax);
  for (const at of [now + 1000, now + 2000, now + 600 + TIMER_J_MS - 1]) {
    t.equal(tx.receive(load(register()), src, at), 'completed', `at +${at - now} ms`);
    const m = tx.copyResponse(resend);
    t.ok(resend.subarray(0, m).equals(original), 'same response bytes');
  }
  // After Timer J the entry is gone: the same request is new again (RFC 3261 §17.2.2, Table 4).
  t.equal(tx.receive(load(register()), src, now + 600 + TIMER_J_MS), 'new');
  t.strictSame(tx.counters, { created: 2, absorbed: 1, retransmitted: 3, evicted: 0, expired: 1, uncacheable: 0 });
});

t.test('the key: branch, sent-by, source and method', async (t) => {
  const tx = new ServerTransactions(16);
  t.equal(tx.receive(load(register()), src, 0), 'new');
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-other' })), src, 0), 'new', 'another branch');
  t.equal(tx.receive(load(register()), { address: '203.0.113.6', port: 40000 }, 0), 'new', 'another source address');
  t.equal(tx.receive(load(register()), { address: '203.0.113.5', port: 40001 }, 0), 'new', 'another source port');
  t.equal(tx.receive(load(register({ viaHost: '192.168.1.21' })), src, 0), 'new', 'another sent-by');
  const options = (branch: string, cseq: number): Buffer => sip(['OPTIONS sip:h SIP/2.0', `Via: SIP/2.0/UDP 192.168.1.20:5060;branch=${branch}`,
    'From: <sip:a@h>;tag=1', 'To: <sip:b@h>', 'Call-ID: same', `CSeq: ${cseq} OPTIONS`]);
  t.equal(tx.receive(load(options('z9hG4bK-524287-1---e3d8a1f5', 2)), src, 0), 'new', 'another method, same branch');
  t.equal(tx.receive(load(register()), src, 0), 'in-progress', 'the first one is still known');
  // RFC 2543 requests (no cookie; or the bare cookie of RFC 4475 §3.2.1): Call-ID, CSeq, tags, top Via, Request-URI.
  t.equal(tx.receive(load(options('old1', 1)), src, 0), 'new');
  t.equal(tx.receive(load(options('old1', 1)), src, 0), 'in-progress', 'same 2543 request');
  t.equal(tx.receive(load(options('old1', 2)), src, 0), 'new', 'another CSeq');
  t.equal(tx.receive(load(options('z9hG4bK', 1)), src, 0), 'new');
  t.equal(tx.receive(load(options('z9hG4bK', 2)), src, 0), 'new', 'bare cookie falls back to 2543 matching');
  const longBranch = 'z9hG4bK' + 'x'.repeat(limits.transactionKeySizeMax);
  t.equal(tx.receive(load(options(longBranch, 1)), src, 0), 'uncacheable');
});

t.test('bounded: the oldest is evicted, a stale handle completes nothing', async (t) => {
  const tx = new ServerTransactions(4);
  const handles: number[] = [];
  for (let i = 0; i < 4; i++) {
    t.equal(tx.receive(load(register({ branch: `z9hG4bK-${i}` })), src, 0), 'new');
    handles.push(tx.handle);
  }
  t.equal(tx.size, 4);
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-4' })), src, 0), 'new');
  t.equal(tx.size, 4);
  t.equal(tx.counters.evicted, 1);
  const n = writer.begin(slot, msg, 200, 'OK', src).finish() as number;
  t.notOk(tx.complete(handles[0]!, slot, n, 0), 'evicted: the response is not cached');
  t.ok(tx.complete(handles[1]!, slot, n, 0));
  t.notOk(tx.complete(handles[1]!, slot, n, 0), 'completing twice does nothing');
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-0' })), src, 0), 'new', 'the evicted one is new again');
  // abandon: a request that will not be answered can be processed again on retransmission.
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-a' })), src, 0), 'new');
  tx.abandon(tx.handle);
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-a' })), src, 0), 'new');
  // sweep removes what Timer J has expired, without per-entry timers.
  t.equal(tx.sweep(TIMER_J_MS - 1), 0);
  t.equal(tx.sweep(TIMER_J_MS), 3); // the re-inserted -a took the ring slot of -3
  t.equal(tx.size, 0);
});

t.test('many transactions through a small cache stay consistent', async (t) => {
  const tx = new ServerTransactions(64);
  let wrong = 0;
  for (let i = 0; i < 5000; i++) {
    const branch = `z9hG4bK-${i}`;
    if (tx.receive(load(register({ branch })), src, i) !== 'new') wrong++;
    const h = tx.handle;
    const n = writer.begin(slot, msg, 200, 'OK', src).finish() as number;
    if (!tx.complete(h, slot, n, i)) wrong++;
    // The last 64 are answered from the cache with their own response.
    const back = `z9hG4bK-${i - (i % 64)}`;
    if (tx.receive(load(register({ branch: back })), src, i) !== 'completed') wrong++;
    else {
      const m = tx.copyResponse(slot);
      if (!slot.subarray(0, m).includes(Buffer.from(`branch=${back};`))) wrong++;
    }
  }
  t.equal(wrong, 0);
  t.equal(tx.size, 64);
});

t.test('large answers: kept in a large slot, byte for byte; none free means not cached', async (t) => {
  // 3 entries, 600-byte slots, one large slot.
  const tx = new ServerTransactions(3, TIMER_J_MS, limits.responseSizeMax, limits.transactionKeySizeMax, 600, 1);
  const answer = (branch: string, contacts: number): number => {
    const w = writer.begin(slot, load(register({ branch })), 200, 'OK', src);
    for (let i = 0; i < contacts; i++) w.contact(`<sip:1001@192.0.2.${i}:5060;transport=udp;line=abcdefghij>`, 3600);
    return w.finish() as number;
  };
  const resend = Buffer.alloc(limits.responseSizeMax);
  const roundTrip = (branch: string, contacts: number): [boolean, Buffer] => {
    t.equal(tx.receive(load(register({ branch })), src, 0), 'new');
    const handle = tx.handle;
    const n = answer(branch, contacts);
    return [tx.complete(handle, slot, n, 0), Buffer.from(slot.subarray(0, n))];
  };
  const [smallOk, small] = roundTrip('z9hG4bK-small', 1);
  const [bigOk, big] = roundTrip('z9hG4bK-big', 12);
  t.ok(smallOk && small.length <= 600, 'a small answer fits its own slot');
  t.ok(bigOk && big.length > 600, 'a large answer takes the large slot');
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-big' })), src, 1), 'completed');
  t.ok(resend.subarray(0, tx.copyResponse(resend)).equals(big), 'the large answer comes back whole');
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-small' })), src, 1), 'completed');
  t.ok(resend.subarray(0, tx.copyResponse(resend)).equals(small));
  // The large slot is taken: another large answer is not cached, and its retransmission is new again.
  const [otherOk] = roundTrip('z9hG4bK-big2', 12);
  t.notOk(otherOk);
  t.equal(tx.counters.uncacheable, 1);
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-big2' })), src, 2), 'new');
  // Evicting the entry that held it frees the large slot for the next large answer.
  for (const b of ['z9hG4bK-e1', 'z9hG4bK-e2']) t.equal(tx.receive(load(register({ branch: b })), src, 3), 'new');
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-big' })), src, 3), 'new', 'the large answer was evicted');
  const [againOk, again] = roundTrip('z9hG4bK-big3', 12);
  t.ok(againOk, 'its slot went back to the pool');
  t.equal(tx.receive(load(register({ branch: 'z9hG4bK-big3' })), src, 4), 'completed');
  t.ok(resend.subarray(0, tx.copyResponse(resend)).equals(again));
});

t.test('bounded chains: no bucket holds more than probeMax entries, a full one gives up its oldest', async (t) => {
  // 1024 entries over 2048 buckets with chains of at most 1 or 2: whatever the random hash key, many keys
  // meet in a bucket (about 256 pairs and 40 triples are expected; none at all has odds below e^-40).
  const count = 1024;
  for (const probeMax of [1, 2]) {
    const tx = new ServerTransactions(count, TIMER_J_MS, limits.responseSizeMax, limits.transactionKeySizeMax,
      limits.transactionResponseSlotSize, 4, probeMax);
    let wrong = 0;
    let longest = 0;
    for (let i = 0; i < count; i++) {
      if (tx.receive(load(register({ branch: `z9hG4bK-chain-${i}` })), src, 0) !== 'new') wrong++;
      // The newest entry is always kept: a retransmission of it is absorbed.
      if (tx.receive(load(register({ branch: `z9hG4bK-chain-${i}` })), src, 0) !== 'in-progress') wrong++;
      if (i % 64 === 63) longest = Math.max(longest, tx.longestChain());
    }
    t.equal(wrong, 0, `probeMax ${probeMax}: every request new, its retransmission absorbed`);
    t.equal(longest, probeMax, `probeMax ${probeMax}: chains grew to the bound, never beyond`);
    t.ok(tx.counters.evicted > 0, `probeMax ${probeMax}: full buckets gave up entries before the cache was full (${tx.counters.evicted})`);
    t.equal(tx.size, count - tx.counters.evicted, 'what was given up is gone, the rest is there');
    // What is left is consistent: a full sweep at Timer J finds and unlinks every entry.
    t.equal(tx.sweep(TIMER_J_MS), count - tx.counters.evicted, 'the sweep removes each survivor');
    t.equal(tx.size, 0);
    t.equal(tx.longestChain(), 0, 'and leaves every chain empty');
  }
});

t.test('sized for the box: 8,192 cached transactions (8 MiB once the ring has gone round) below 1 GiB of RAM, 32,768 above', async (t) => {
  const MiB = 1024 * 1024;
  t.equal(transactionCacheFor(256 * MiB), 8_192, 'a 256 MiB gateway');
  t.equal(transactionCacheFor(512 * MiB), 8_192);
  t.equal(transactionCacheFor(1024 * MiB), 32_768);
  t.equal(transactionCacheFor(8192 * MiB), 32_768);
  const tx = new ServerTransactions(transactionCacheFor(256 * MiB));
  t.ok(tx.size === 0, 'a cache of that size is made');
  t.ok(limits.transactionCacheMax === 8_192 || limits.transactionCacheMax === 32_768, 'the service uses one of them');
});

t.test('the sweep works in slices, continuing where the last one stopped', async (t) => {
  const tx = new ServerTransactions(64);
  for (let i = 0; i < 64; i++) t.equal(tx.receive(load(register({ branch: `z9hG4bK-s-${i}` })), src, i), 'new');
  const jMs = TIMER_J_MS;
  // Entries 0..63 expire at jMs + i. At jMs + 40, 0..40 have expired: slices of 16 slots each find theirs.
  t.strictSame([tx.sweep(jMs + 40, 16), tx.sweep(jMs + 40, 16), tx.sweep(jMs + 40, 16), tx.sweep(jMs + 40, 16)], [16, 16, 9, 0],
    'each slice removes what has expired among its 16 slots');
  t.equal(tx.size, 23);
  t.equal(tx.sweep(jMs + 100, 48), 7, 'the next slice starts again at slot 0: 41..47 in its 48 slots');
  t.equal(tx.sweep(jMs + 100, 1000), 16, 'a slice larger than the cache looks at each slot once, from 48 round to 47');
  t.equal(tx.size, 0);
  t.equal(tx.counters.expired, 64);
});
