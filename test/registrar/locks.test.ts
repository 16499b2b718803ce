import t from 'tap';
import { NumberLocks } from '../../src/registrar/locks.js';

t.test('a number is locked as many times as it is unlocked, and idle entries do not pile up', async (t) => {
  const locks = new NumberLocks();
  locks.lock('1001');
  locks.lock('1001');
  t.ok(locks.isLocked('1001'));
  t.equal(locks.size, 1);
  locks.unlock('1001');
  t.ok(locks.isLocked('1001'), 'two batches: still locked after the first');
  locks.unlock('1001');
  t.notOk(locks.isLocked('1001'));
  t.equal(locks.size, 0);
  locks.unlock('1001');
  t.equal(locks.size, 0, 'an unlock too many changes nothing');
  locks.lock('1001');
  t.equal(locks.size, 1, 'locked again after being idle');
  for (let i = 0; i < 40_000; i++) { locks.lock(`n${i}`); locks.unlock(`n${i}`); }
  const table = (locks as unknown as { pending: Map<string, number> }).pending;
  t.ok(table.size <= 16_384 + 1, `idle entries are dropped in bulk (${table.size} held)`);
  t.ok(locks.isLocked('1001'), 'a held lock survives the clean-up');
  t.equal(locks.size, 1);
});
