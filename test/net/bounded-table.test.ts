import t from 'tap';
import { BoundedTable } from '../../src/net/index.js';

t.test('evicts the least recently updated entry', async (t) => {
  const table = new BoundedTable(3);
  const a = table.insert('a');
  table.insert('b');
  table.insert('c');
  t.same(table.keysInEvictionOrder(), ['a', 'b', 'c']);
  table.touch(a);
  t.same(table.keysInEvictionOrder(), ['b', 'c', 'a'], 'touch moves to the back of the queue');
  t.equal(table.find('b') >= 0, true);
  t.same(table.keysInEvictionOrder(), ['b', 'c', 'a'], 'find is not an update');
  const d = table.insert('d');
  t.equal(table.lastEvictedKey, 'b');
  t.equal(table.find('b'), -1);
  t.equal(table.keyAt(d), 'd');
  t.equal(table.size, 3);
  t.equal(table.evictions, 1);
  t.same(table.keysInEvictionOrder(), ['c', 'a', 'd']);
});

t.test('delete frees a slot, clear frees all', async (t) => {
  const table = new BoundedTable(2);
  table.insert('a');
  table.insert('b');
  t.equal(table.delete('a'), true);
  t.equal(table.delete('a'), false);
  table.insert('c');
  t.equal(table.lastEvictedKey, null, 'the freed slot was used, nothing evicted');
  t.same(table.keysInEvictionOrder(), ['b', 'c']);
  table.deleteSlot(table.find('c'));
  t.same(table.keysInEvictionOrder(), ['b']);
  table.clear();
  t.equal(table.size, 0);
  t.same(table.keysInEvictionOrder(), []);
  table.insert('x');
  table.insert('y');
  table.insert('z');
  t.same(table.keysInEvictionOrder(), ['y', 'z']);
});

t.test('a million keys through a small table stay at its bound, slots stay consistent', async (t) => {
  const capacity = 1024;
  const table = new BoundedTable(capacity);
  const owner = new Array<string>(capacity).fill('');
  for (let i = 0; i < 1_000_000; i++) {
    const key = `k${i}`;
    const slot = table.insert(key);
    owner[slot] = key;
    if ((i & 7) === 0) {
      const back = table.find(`k${i - 100}`);
      if (back >= 0) table.touch(back);
    }
  }
  t.equal(table.size, capacity);
  t.equal(table.evictions, 1_000_000 - capacity);
  let consistent = 0;
  for (const key of table.keysInEvictionOrder()) if (owner[table.find(key)] === key) consistent++;
  t.equal(consistent, capacity);
});
