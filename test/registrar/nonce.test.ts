import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { NonceCounts, NonceIssuer, NONCE_TEXT_LENGTH, loadNonceSecret } from '../../src/registrar/nonce.js';

t.test('nonces: issued, checked, stale after the lifetime, forged ones refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-nonce-'));
  const store = openStore(dir);
  const secret = loadNonceSecret(store);
  t.same(loadNonceSecret(store), secret, 'the secret is stored once');
  await store.close();
  const reopened = openStore(dir);
  t.teardown(() => reopened.close());
  t.same(loadNonceSecret(reopened), secret, 'a restart keeps the secret (nonces of the earlier start are still told from forgeries: stale, not invalid)');

  const issuer = new NonceIssuer(secret);
  const now = 1_700_000_000_000;
  const from = '192.0.2.7';
  const a = issuer.issue(now, from);
  const b = issuer.issue(now, from);
  t.equal(a.length, NONCE_TEXT_LENGTH);
  t.not(a, b, 'every nonce is unique');
  t.equal(issuer.check(a, now + 1000, 300, from), 'ok');
  t.equal(issuer.issuedAtMs, now);
  t.equal(issuer.check(a, now + 301_000, 300, from), 'stale');
  const forged = (a[0] === 'A' ? 'B' : 'A') + a.slice(1);
  t.equal(issuer.check(forged, now, 300, from), 'invalid', 'a changed timestamp breaks the MAC');
  t.equal(issuer.check('short', now, 300, from), 'invalid');
  t.equal(issuer.check('!'.repeat(NONCE_TEXT_LENGTH), now, 300, from), 'invalid');
  t.equal(new NonceIssuer(Buffer.alloc(32, 7)).check(a, now, 300, from), 'invalid', 'another secret refuses it');
  t.equal(issuer.check(issuer.issue(now + 60_000, from), now, 300, from), 'invalid', 'from the future');
});

t.test('nonces are bound to the source address, not its port', async (t) => {
  const issuer = new NonceIssuer(Buffer.alloc(32, 1));
  const now = 1_700_000_000_000;
  const table: [string, string, string][] = [
    ['192.0.2.7', '192.0.2.7', 'ok'],
    ['192.0.2.7', '::ffff:192.0.2.7', 'ok'],           // the same address seen by a dual-stack socket
    ['192.0.2.7', '192.0.2.8', 'invalid'],
    ['2001:db8::1', '2001:0db8:0:0::1', 'ok'],
    ['2001:db8::1', '2001:db8::2', 'invalid'],         // the same /64: still another address
    ['0.0.0.0', '::', 'invalid'],                      // same bytes, other family
    ['192.0.2.7', 'not-an-address', 'invalid'],
  ];
  for (const [to, back, want] of table) t.equal(issuer.check(issuer.issue(now, to), now, 300, back), want, `issued to ${to}, answered from ${back}`);
});

t.test('a nonce of an earlier start is stale: the nonce-counts it was used with are gone', async (t) => {
  const secret = Buffer.alloc(32, 2);
  const now = 1_700_000_000_000;
  const before = new NonceIssuer(secret, Buffer.from([1, 2, 3, 4]));
  const nonce = before.issue(now, '192.0.2.7');
  t.equal(before.check(nonce, now, 300, '192.0.2.7'), 'ok');
  const after = new NonceIssuer(Buffer.from(secret), Buffer.from([1, 2, 3, 5]));
  t.equal(after.check(nonce, now + 1000, 300, '192.0.2.7'), 'stale', 'another start with the same secret: stale, not accepted');
  t.equal(after.check(nonce, now + 1000, 300, '192.0.2.8'), 'invalid', 'and from another address not even that');
  t.equal(after.check(after.issue(now, '192.0.2.7'), now, 300, '192.0.2.7'), 'ok', 'its own nonces work');
  t.not(new NonceIssuer(secret).issue(now, '192.0.2.7'), new NonceIssuer(secret).issue(now, '192.0.2.7'), 'each start is random');
});

t.test('fake HA1s for unknown numbers', async (t) => {
  const issuer = new NonceIssuer(Buffer.alloc(32, 3));
  t.equal(issuer.fakeHa1('9999', 'sipreg', 'MD5'), new NonceIssuer(Buffer.alloc(32, 3)).fakeHa1('9999', 'sipreg', 'MD5'), 'fake HA1 is deterministic, across starts too');
  t.equal(issuer.fakeHa1('9999', 'sipreg', 'MD5').length, 32);
  t.equal(issuer.fakeHa1('9999', 'sipreg', 'SHA-256').length, 64);
  t.not(issuer.fakeHa1('9999', 'sipreg', 'MD5'), issuer.fakeHa1('9998', 'sipreg', 'MD5'));
});

t.test('nonce-counts: must increase; an evicted nonce is never accepted again', async (t) => {
  const counts = new NonceCounts(2);
  t.equal(counts.accept('n1', 100, 1), 'ok');
  t.equal(counts.accept('n1', 100, 1), 'replay', 'same nc again');
  t.equal(counts.accept('n1', 100, 2), 'ok', 'a higher nc, e.g. the un-REGISTER');
  t.equal(counts.accept('n1', 100, 1), 'replay', 'lower nc');
  t.equal(counts.accept('n2', 200, 1), 'ok');
  t.equal(counts.accept('n3', 300, 1), 'ok', 'evicts n1');
  t.equal(counts.size, 2);
  t.equal(counts.accept('n1', 100, 3), 'evicted', 'n1 fell out: answered stale, not accepted');
  t.equal(counts.accept('n0', 50, 1), 'evicted', 'older than the watermark and unknown');
  t.equal(counts.accept('n4', 400, 1), 'ok', 'newer nonces still work');
});
