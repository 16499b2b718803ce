import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, putBinding, bindingsOf, lapsedEntries, queryEvents } from '../../src/store/index.js';
import { sweepOnce } from '../../src/registrar/sweep.js';
import { NumberLocks } from '../../src/registrar/locks.js';
import { binding } from './helpers.js';

t.test('the sweep removes lapsed bindings, records expired, is bounded, and skips numbers with a write in flight', async (t) => {
  const store = openStore(mkdtempSync(join(tmpdir(), 'sipreg-sweep-')));
  t.teardown(() => store.close());
  for (let i = 0; i < 5; i++) await putBinding(store, binding(`10${i}`, `sip:a@h${i}`, { expiresAtMs: 1000 + i }));
  await putBinding(store, binding('200', 'sip:live@h', { expiresAtMs: 99_999 }));
  const locks = new NumberLocks();
  locks.lock('104');
  t.equal((await sweepOnce(store, locks, 5000, 3)).removed, 3, 'bounded per pass');
  t.equal((await sweepOnce(store, locks, 5000, 3)).removed, 1, 'the locked one waits');
  t.equal(bindingsOf(store, '104').length, 1);
  locks.unlock('104');
  t.equal((await sweepOnce(store, locks, 5000, 3)).removed, 1);
  t.equal((await sweepOnce(store, locks, 5000, 3)).removed, 0);
  t.equal(bindingsOf(store, '200').length, 1, 'a live binding stays');
  const expired = queryEvents(store, { type: 'expired' });
  t.equal(expired.length, 5);
  t.match(expired[0]!.detail, /^expired: not refreshed within its 600 s/);
});

t.test('index entries are check times: a refreshed binding is re-armed, not expired, at its old time', async (t) => {
  const store = openStore(mkdtempSync(join(tmpdir(), 'sipreg-sweep-')));
  t.teardown(() => store.close());
  const b = binding('300', 'sip:a@h', { expiresAtMs: 1_000 });
  await putBinding(store, b);
  await putBinding(store, { ...b, expiresAtMs: 5_000 }); // a refresh: no index write
  t.same(lapsedEntries(store, 10_000, 10), [[1_000, '300']], 'the refresh left the earlier check time');
  t.same(await sweepOnce(store, null, 2_000), { removed: 0, full: false }, 'nothing lapsed at the old time');
  t.same(lapsedEntries(store, 10_000, 10), [[5_000, '300']], 're-armed at the binding\'s expiry');
  await putBinding(store, { ...b, contactKey: 'sip:b@h', contact: 'sip:b@h', expiresAtMs: 3_000 });
  t.same(lapsedEntries(store, 10_000, 10), [[3_000, '300'], [5_000, '300']], 'an earlier expiry than everything held adds its own');
  t.equal((await sweepOnce(store, null, 3_000)).removed, 1);
  t.same(bindingsOf(store, '300').map((x) => x.contactKey), ['sip:a@h']);
  t.equal((await sweepOnce(store, null, 5_000)).removed, 1);
  t.same(bindingsOf(store, '300'), []);
  t.same(lapsedEntries(store, 10_000, 10), [], 'nothing left to check');
});
