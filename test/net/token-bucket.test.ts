import t from 'tap';
import { TokenBucket, bucketTake, bucketFill } from '../../src/net/index.js';

t.test('burst, then the rate', async (t) => {
  const b = new TokenBucket(10, 5, 0);
  const taken: boolean[] = [];
  for (let i = 0; i < 6; i++) taken.push(b.take(0));
  t.same(taken, [true, true, true, true, true, false], 'a full bucket gives its burst at once');
  t.equal(b.take(99), false, '0.99 tokens earned: not yet');
  t.equal(b.take(100), true, 'one token per 100 ms at 10/s');
  t.equal(b.take(100), false);
  t.equal(b.take(10_000), true, 'a long pause refills...');
  let n = 1;
  while (b.take(10_000)) n++;
  t.equal(n, 5, '...only up to the burst');
});

t.test('a clock stepping back refills nothing', async (t) => {
  const b = new TokenBucket(1, 1, 1_000);
  t.equal(b.take(1_000), true);
  t.equal(b.take(500), false);
  t.equal(b.take(1_999), false);
  t.equal(b.take(2_000), true);
});

t.test('reconfigured: earned tokens kept up to the new size', async (t) => {
  const b = new TokenBucket(1, 100, 0);
  b.configure(1, 3);
  t.equal(b.tokens, 3);
  t.equal(b.take(0) && b.take(0) && b.take(0), true);
  t.equal(b.take(0), false);
});

t.test('buckets in a column', async (t) => {
  const state = new Float64Array(4);
  bucketFill(state, 0, 0, 2);
  bucketFill(state, 2, 0, 1);
  t.same([bucketTake(state, 0, 0, 1, 2), bucketTake(state, 0, 0, 1, 2), bucketTake(state, 0, 0, 1, 2)], [true, true, false]);
  t.same([bucketTake(state, 2, 0, 1, 1), bucketTake(state, 2, 0, 1, 1)], [true, false], 'the neighbour is independent');
  t.equal(bucketTake(state, 0, 1_000, 1, 2), true);
});
