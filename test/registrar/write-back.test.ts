// Issue 14 in-process: a refresh is answered from memory and written with the flush; a change is in the
// store (and on disk) before its 200; the flush never brings back or overwrites what another process or
// a later change did; the sweep and the 200 see the refreshed expiry; the recovery rule; the commit window.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MARK_KEY, StoreFlush, bindingCount, bindingsOf, lapsedEntries, openStore, putBinding, queryEvents, readMark, type Store, type StoreMark,
} from '../../src/store/index.js';
import { sweepOnce } from '../../src/registrar/sweep.js';
import { counters } from '../../src/stats/counters.js';
import { SipClient, type Response } from './sipclient.js';
import { startHarness, type Harness } from './harness.js';
import { binding } from './helpers.js';
import { sleep } from '../helpers/wait.js';

const params = `
params:
  SS_ENDPOINT_EXPIRE_JITTER: 0
  SS_STORE_FLUSH_INTERVAL: 300
  SERVER_REGISTRAR_MAX_BINDINGS: 2
`;
const accounts = `
accounts:
${['2001', '2002', '2003', '2004', '2005', '2006', '2007', '2008'].map((n) => `  - { number: "${n}", auth_mode: ip, allow: ["127.0.0.0/8"] }`).join('\n')}
`;

let h: Harness;
let c: SipClient;
t.before(async () => {
  h = await startHarness(params + accounts);
  c = await SipClient.open(h.port);
});
t.teardown(async () => { c.close(); await h.close(); });

const lastTxnId = (store: Store): number => (store.root.getStats() as { lastTxnId: number }).lastTxnId;
const expiresOf = (r: Response): number => Number(/;expires=(\d+)/.exec(r.header('contact') ?? '')?.[1] ?? -1);

t.test('a refresh writes nothing until the flush; then its expiry and ONE refreshed row with the count', async (t) => {
  const first = await c.register({ user: '2001', expires: 600 });
  t.equal(first.status, 200);
  const stored = bindingsOf(h.store, '2001')[0]!;
  t.equal(stored.expiresS, 600, 'the new binding is in the store when its 200 arrives');
  const before = h.store.bindings.getBinary('2001');
  const txn = lastTxnId(h.store);
  const accepted = counters.registersAccepted;
  let promisedMs = 0;
  for (let i = 0; i < 5; i++) {
    await sleep(20);
    const sentMs = Date.now();
    const r = await c.register({ user: '2001', expires: 600 });
    t.equal(r.status, 200, `refresh ${i + 1} answered`);
    t.equal(expiresOf(r), 600, 'with the expiry granted, as a change would be');
    promisedMs = sentMs + 600_000;
  }
  t.equal(counters.registersAccepted - accepted, 5, 'every refresh counted');
  t.equal(lastTxnId(h.store), txn, 'no transaction committed for the refreshes');
  t.same(h.store.bindings.getBinary('2001'), before, 'the stored binding is byte for byte the same');
  t.equal(queryEvents(h.store, { number: '2001', type: 'refreshed' }).length, 0, 'no history row yet');
  t.equal(h.sip.registrar!.writeBack.pendingBindings, 1, 'one binding waits, however often it refreshed');

  t.equal(await h.ctx.writes.flushNow(), true);
  const after = bindingsOf(h.store, '2001')[0]!;
  t.ok(after.expiresAtMs >= promisedMs - 1000 && after.expiresAtMs > stored.expiresAtMs, 'the flush wrote the last refresh\'s expiry');
  t.ok(after.refreshedAtMs > stored.refreshedAtMs);
  t.equal(after.cseq, stored.cseq + 5);
  t.equal(after.registeredAtMs, stored.registeredAtMs);
  const rows = queryEvents(h.store, { number: '2001', type: 'refreshed' });
  t.equal(rows.length, 1, 'one refreshed row for the five refreshes');
  t.match(rows[0]!.detail, /^200 OK: refreshed sip:2001@127\.0\.0\.1:\d+ for 600 s \(asked 600 s by Expires header\); 5 refreshes of this number since \d{4}-\d\d-\d\dT/);
  t.equal(rows[0]!.source, `127.0.0.1:${c.port}`);
  t.equal(rows[0]!.userAgent, 'sipreg-test');
  t.equal(h.sip.registrar!.writeBack.pendingBindings, 0);
  const txnAfter = lastTxnId(h.store);
  t.equal(await h.ctx.writes.flushNow(), true);
  t.equal(queryEvents(h.store, { number: '2001', type: 'refreshed' }).length, 1, 'nothing written twice');
  t.ok(lastTxnId(h.store) > txnAfter, '(the mark is written by every flush)');
});

t.test('what is not a refresh is a change: in the store before its 200', async (t) => {
  const k = await SipClient.open(h.port);
  t.teardown(() => k.close());
  t.equal((await k.register({ user: '2002', expires: 600 })).status, 200);
  const check = async (what: string, o: Parameters<SipClient['register']>[0], edit = (text: string): string => text): Promise<void> => {
    const txn = lastTxnId(h.store);
    const { text, branch } = k.registerText(o);
    const r = await k.request(edit(text), branch);
    t.equal(r.status, 200, what);
    t.ok(lastTxnId(h.store) > txn, `${what}: committed before the 200`);
    t.equal(h.sip.registrar!.writeBack.pendingBindings, 0, `${what}: nothing waits`);
  };
  await check('a shorter expiry', { user: '2002', expires: 300 });
  t.equal(bindingsOf(h.store, '2002')[0]!.expiresS, 300);
  await check('another User-Agent', { user: '2002', expires: 300 }, (text) => text.replace('User-Agent: sipreg-test', 'User-Agent: phone/2.0'));
  t.equal(bindingsOf(h.store, '2002')[0]!.userAgent, 'phone/2.0');
  // The contact's NAT state: a Via naming a private address behind the loopback source.
  await check('behind NAT now', { user: '2002', expires: 600, viaHost: '192.168.1.9' });
  t.equal(bindingsOf(h.store, '2002')[0]!.nat, true);
  await check('a new Call-ID (the device restarted)', { user: '2002', expires: 600, viaHost: '192.168.1.9', callId: 'restarted@test' });
  t.equal(bindingsOf(h.store, '2002')[0]!.callId, 'restarted@test');
  const moved = await SipClient.open(h.port);
  t.teardown(() => moved.close());
  await check('a second contact', { user: '2002', expires: 600, contacts: [`<sip:2002@127.0.0.1:${moved.port}>`] });
  t.equal(bindingsOf(h.store, '2002').length, 2);
  await check('an unregister', { user: '2002', expires: 0, contacts: [`<sip:2002@127.0.0.1:${moved.port}>`] });
  t.equal(bindingsOf(h.store, '2002').length, 1);
});

t.test('a force-unregister by another process is not undone by a pending write-back', async (t) => {
  t.equal((await c.register({ user: '2003', expires: 600 })).status, 200);
  t.equal((await c.register({ user: '2003', expires: 600 })).status, 200, 'a refresh, waiting for the flush');
  t.equal(h.sip.registrar!.writeBack.pendingBindings, 1);
  // `sipreg unregister` in another process: removes the number's value straight from LMDB.
  const script = `import { open } from 'lmdb';
    const root = open({ path: ${JSON.stringify(h.dataDir)}, maxDbs: 16, compression: false });
    const db = root.openDB({ name: 'aors', encoding: 'binary' });
    if (!(await db.remove('2003'))) process.exit(3);
    await root.close();`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: process.cwd(), encoding: 'utf8' });
  t.equal(child.status, 0, child.stderr);
  const query = await c.register({ user: '2003', contacts: [] });
  t.equal(query.all('contact').length, 0, 'the service sees the removal at once');
  t.equal(await h.ctx.writes.flushNow(), true);
  t.same(bindingsOf(h.store, '2003'), [], 'the flush did not bring the binding back');
  t.equal(queryEvents(h.store, { number: '2003', type: 'refreshed' }).length, 1, 'the refresh is in the history all the same');
  // The phone's next refresh is a new registration: a change, committed before its 200.
  const txn = lastTxnId(h.store);
  const again = await c.register({ user: '2003', expires: 600 });
  t.equal(again.status, 200);
  t.ok(lastTxnId(h.store) > txn, 'committed');
  t.equal(bindingsOf(h.store, '2003').length, 1);
  await h.ctx.writes.flushNow();   // a change's history rows join the next flush
  t.equal(queryEvents(h.store, { number: '2003', type: 'registered' }).length, 2, 'recorded as registered, not refreshed');
});

t.test('a change after a refresh is not overwritten by the write-back', async (t) => {
  t.equal((await c.register({ user: '2004', expires: 600 })).status, 200);
  t.equal((await c.register({ user: '2004', expires: 900 })).status, 200, 'refresh to a later expiry');
  const shorter = await c.register({ user: '2004', expires: 120 });
  t.equal(expiresOf(shorter), 120, 'then a shorter one: a change');
  const stored = bindingsOf(h.store, '2004')[0]!;
  t.equal(stored.expiresS, 120);
  t.equal(await h.ctx.writes.flushNow(), true);
  const after = bindingsOf(h.store, '2004')[0]!;
  t.equal(after.expiresS, 120, 'the pending 900 s did not overwrite it');
  t.equal(after.expiresAtMs, stored.expiresAtMs);
});

t.test('the sweep and the 200 take the refreshed expiry', async (t) => {
  t.equal((await c.register({ user: '2005', expires: 600 })).status, 200);
  const stored = bindingsOf(h.store, '2005')[0]!;
  await sleep(1100);
  const r = await c.register({ user: '2005', expires: 600 });
  t.equal(r.status, 200);
  const promised = Date.now() + 600_000;
  t.equal(h.sip.registrar!.writeBack.pendingBindings, 1, 'the refresh waits for the flush');
  // Between the stored expiry and the refreshed one: the sweep keeps it.
  const between = stored.expiresAtMs + 500;
  await sweepOnce(h.store, h.sip.registrar!.locks, between, 1000, h.ctx.writes.overlay);
  t.equal(bindingsOf(h.store, '2005').length, 1, 'not swept at its stored expiry');
  // The 200 of a query lists the refreshed expiry, not the stored one.
  const q = await c.register({ user: '2005', contacts: [] });
  t.ok(expiresOf(q) >= 599, `query: ${q.header('contact')}`);
  t.ok(promised > stored.expiresAtMs + 1000);
  // Past the refreshed expiry: swept.
  await sweepOnce(h.store, h.sip.registrar!.locks, promised + 1000, 1000, h.ctx.writes.overlay);
  t.same(bindingsOf(h.store, '2005'), [], 'swept once its refreshed expiry passed');
});

t.test('a promise beyond what the recovery rule can restore is committed (the horizon)', async (t) => {
  // Asked for longer than before: the new expiry is past horizon + the stored expiresS.
  t.equal((await c.register({ user: '2006', expires: 60 })).status, 200);
  const txn = lastTxnId(h.store);
  const r = await c.register({ user: '2006', expires: 7200 });
  t.equal(expiresOf(r), 7200);
  t.ok(lastTxnId(h.store) > txn, 'committed before the 200: horizon + 60 s cannot stand for 7200 s');
  t.equal(bindingsOf(h.store, '2006')[0]!.expiresS, 7200);
});

t.test('SS_ENDPOINT_EXPIRE_JITTER: refreshes stay quiet, their grant moved within the jitter', async (t) => {
  const j = await startHarness(params.replace('SS_ENDPOINT_EXPIRE_JITTER: 0', 'SS_ENDPOINT_EXPIRE_JITTER: 10') + accounts);
  const k = await SipClient.open(j.port);
  t.teardown(async () => { k.close(); await j.close(); });
  t.equal((await k.register({ user: '2007', expires: 3600 })).status, 200);
  const txn = lastTxnId(j.store);
  for (let i = 0; i < 20; i++) {
    const r = await k.register({ user: '2007', expires: 3600 });
    const e = expiresOf(r);
    t.ok(e >= 3240 && e <= 3600, `granted ${e} s, within 10 % of 3600`);
  }
  t.equal(lastTxnId(j.store), txn, 'twenty refreshes, no commit');
});

t.test("a change's commit holds its binding; its history row, the count and its index entry join the flush", async (t) => {
  await h.ctx.writes.flushNow();   // what earlier tests left waiting
  const count = bindingCount(h.store);
  const farMs = Date.now() + 10 * 86_400_000;
  const indexed = (): number => lapsedEntries(h.store, farMs, 1_000_000).filter(([, n]) => n === '2008').length;
  t.equal(indexed(), 0);
  const r = await c.register({ user: '2008', expires: 3600 });
  t.equal(r.status, 200);
  t.equal(bindingsOf(h.store, '2008').length, 1, 'the binding is in the store when its 200 arrives');
  t.equal(queryEvents(h.store, { number: '2008', type: 'registered' }).length, 0, 'its history row waits for the flush');
  t.equal(bindingCount(h.store), count, 'so does the count');
  t.equal(indexed(), 0, 'and the index entry of an expiry far past the next flush');
  t.equal(await h.ctx.writes.flushNow(), true);
  t.equal(queryEvents(h.store, { number: '2008', type: 'registered' }).length, 1, 'the flush writes the row');
  t.equal(bindingCount(h.store), count + 1, 'the count');
  t.equal(indexed(), 1, 'and the index entry');
});

t.test('recovery rule: after an unclean stop, the index and the count are rebuilt from the bindings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-recovery-'));
  const store = openStore(dir);
  t.teardown(() => store.close());
  const now = Date.now();
  // Two bindings committed by a service that died before its flush wrote their index entries and count.
  await putBinding(store, binding('3101', 'sip:a@x', { expiresS: 60, expiresAtMs: now + 30_000 }));
  await putBinding(store, binding('3102', 'sip:b@x', { expiresS: 3600, expiresAtMs: now + 3_600_000 }));
  await store.root.transaction(() => {
    for (const k of store.expiry.getKeys({})) store.expiry.remove(k as [number, string]);
    store.meta.put('binding_count', 0);
  });
  t.equal(lapsedEntries(store, now + 86_400_000, 100).length, 0);
  await store.meta.put(MARK_KEY, { clean: false, flushedAtMs: now - 1_000, horizonMs: now + 59_000, intervalMs: 30_000, pid: 1 } satisfies StoreMark);
  const writes = new StoreFlush(store, 30);
  await writes.start(now);
  t.teardown(() => writes.close());
  t.equal(bindingCount(store), 2, 'the count');
  t.same(lapsedEntries(store, now + 86_400_000, 100).map(([, n]) => n), ['3101', '3102'], 'an index entry for every number');
  t.equal((await sweepOnce(store, null, now + 1_000_000_000)).removed, 2, 'so the sweep finds both once lapsed');
});

t.test('recovery rule: after an unclean stop, bindings live at the last flush are kept to their bound', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-recovery-'));
  const store = openStore(dir);
  t.teardown(() => store.close());
  const now = Date.now();
  const flushedAtMs = now - 20_000;
  const horizonMs = flushedAtMs + 60_000;
  // Live at the last flush, its stored expiry passed since: a refresh may have promised up to horizon + 60 s.
  await putBinding(store, binding('3001', 'sip:a@x', { expiresS: 60, expiresAtMs: now - 5_000, refreshedAtMs: now - 65_000 }));
  // Lapsed before the last flush: nothing can have refreshed it.
  await putBinding(store, binding('3002', 'sip:b@x', { expiresS: 60, expiresAtMs: flushedAtMs - 1_000 }));
  // Already beyond the bound: left as it is.
  await putBinding(store, binding('3003', 'sip:c@x', { expiresS: 60, expiresAtMs: horizonMs + 3_600_000 }));
  await store.meta.put(MARK_KEY, { clean: false, flushedAtMs, horizonMs, intervalMs: 30_000, pid: 1 } satisfies StoreMark);
  const writes = new StoreFlush(store, 30);
  const recovery = await writes.start(now);
  t.teardown(() => writes.close());
  t.equal(recovery.unclean, true);
  t.equal(recovery.extended, 1);
  t.equal(bindingsOf(store, '3001')[0]!.expiresAtMs, horizonMs + 60_000, 'kept until horizon + its expiresS');
  t.equal(bindingsOf(store, '3002')[0]!.expiresAtMs, flushedAtMs - 1_000);
  t.equal(bindingsOf(store, '3003')[0]!.expiresAtMs, horizonMs + 3_600_000);
  t.equal((await sweepOnce(store, null, now + 1000)).removed, 1, 'the sweep takes only the one that lapsed before the last flush');
  t.same(bindingsOf(store, '3002'), []);
  const mark = readMark(store)!;
  t.equal(mark.clean, false, 'marked as in use');
  t.equal(mark.flushedAtMs, now);
  t.equal(writes.horizonMs, now + 60_000, 'refreshes may be answered from memory for two intervals');
  t.equal(await writes.close(), true);
  t.equal(readMark(store)!.clean, true, 'a clean stop marks the store clean');
  const again = new StoreFlush(store, 30);
  t.equal((await again.start()).unclean, false, 'and the next start applies nothing');
  await again.close();
});

t.test('commit window: a storm of changes shares commits', async (t) => {
  const storm = await startHarness(params.replace('SS_STORE_FLUSH_INTERVAL: 300', 'SS_STORE_FLUSH_INTERVAL: 300\n  SS_STORE_COMMIT_WINDOW_MS: 100') +
    'accounts:\n' + Array.from({ length: 100 }, (_, i) => `  - { number: "${5000 + i}", auth_mode: ip, allow: ["127.0.0.0/8"] }`).join('\n') + '\n');
  const k = await SipClient.open(storm.port);
  t.teardown(async () => { k.close(); await storm.close(); });
  const transaction = storm.store.root.transaction.bind(storm.store.root);
  let commits = 0;
  storm.store.root.transaction = ((cb: () => unknown) => { commits++; return transaction(cb); }) as typeof transaction;
  t.teardown(() => { storm.store.root.transaction = transaction; });
  const startMs = Date.now();
  const answers: Promise<Response>[] = [];
  // One new registration every 5 ms: without the window each would find no commit in flight and start one.
  for (let i = 0; i < 100; i++) {
    answers.push(k.register({ user: String(5000 + i), expires: 600 }, 10_000));
    await sleep(5);
  }
  const all = await Promise.all(answers);
  const tookMs = Date.now() - startMs;
  t.ok(all.every((r) => r.status === 200), 'all registered');
  t.ok(commits <= Math.ceil(tookMs / 100) + 1, `${commits} commits for 100 registrations over ${tookMs} ms (window 100 ms)`);
  t.equal(bindingsOf(storm.store, '5099').length, 1);
});
