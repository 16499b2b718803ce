import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, putBinding, bindingsOf, queryEvents } from '../../src/store/index.js';
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
  t.equal(await sweepOnce(store, locks, 5000, 3), 3, 'bounded per pass');
  t.equal(await sweepOnce(store, locks, 5000, 3), 1, 'the locked one waits');
  t.equal(bindingsOf(store, '104').length, 1);
  locks.unlock('104');
  t.equal(await sweepOnce(store, locks, 5000, 3), 1);
  t.equal(await sweepOnce(store, locks, 5000, 3), 0);
  t.equal(bindingsOf(store, '200').length, 1, 'a live binding stays');
  const expired = queryEvents(store, { type: 'expired' });
  t.equal(expired.length, 5);
  t.match(expired[0]!.detail, /^expired: not refreshed within its 600 s/);
});
