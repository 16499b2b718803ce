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
  t.same(loadNonceSecret(reopened), secret, 'a restart keeps the secret, so outstanding nonces stay valid');

  const issuer = new NonceIssuer(secret);
  const now = 1_700_000_000_000;
  const a = issuer.issue(now);
  const b = issuer.issue(now);
  t.equal(a.length, NONCE_TEXT_LENGTH);
  t.not(a, b, 'every nonce is unique');
  t.equal(issuer.check(a, now + 1000, 300), 'ok');
  t.equal(issuer.issuedAtMs, now);
  t.equal(new NonceIssuer(Buffer.from(secret)).check(a, now, 300), 'ok', 'another process with the secret accepts it');
  t.equal(issuer.check(a, now + 301_000, 300), 'stale');
  const forged = (a[0] === 'A' ? 'B' : 'A') + a.slice(1);
  t.equal(issuer.check(forged, now, 300), 'invalid', 'a changed timestamp breaks the MAC');
  t.equal(issuer.check('short', now, 300), 'invalid');
  t.equal(issuer.check('!'.repeat(NONCE_TEXT_LENGTH), now, 300), 'invalid');
  t.equal(new NonceIssuer(Buffer.alloc(32, 7)).check(a, now, 300), 'invalid', 'another secret refuses it');
  t.equal(issuer.check(issuer.issue(now + 60_000), now, 300), 'invalid', 'from the future');
  t.equal(issuer.fakeHa1('9999', 'sipreg', 'MD5'), issuer.fakeHa1('9999', 'sipreg', 'MD5'), 'fake HA1 is deterministic');
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
