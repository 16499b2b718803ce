// src/assert.ts, the one assertion of src/: a holding condition passes, a broken one throws an
// AssertionError carrying code ERR_ASSERTION and the call's message.
import t from 'tap';
import { AssertionError, assert } from '../src/assert.js';

t.test('assert', async (t) => {
  t.doesNotThrow(() => assert(1 + 1 === 2, 'arithmetic'), 'a holding condition passes');
  const thrown = (() => { try { assert(2 > 3, 'two above three'); } catch (err) { return err; } return null; })();
  t.ok(thrown instanceof AssertionError, 'an AssertionError');
  t.ok(thrown instanceof Error, 'an Error');
  t.match(thrown, { name: 'AssertionError', code: 'ERR_ASSERTION', message: 'two above three' });
});
