// The operator's words and hints (src/ops/words.ts) over the details the registrar, the guard and
// the trunk client write, including both texts the registrar has used for a digest username that is no
// account (sipsak's `1003@`).
import t from 'tap';
import { eventHint, eventWords, lockoutWords, trunkWords } from '../../src/ops/words.js';
import type { EventRecord, TrunkStateRecord } from '../../src/store/index.js';

const ev = (detail: string, over: Partial<EventRecord> = {}): EventRecord => ({
  atMs: 0, type: 'auth_failed', number: '1003', source: '127.0.0.1:5060', userAgent: 'sipsak 0.9.8.1', detail, ...over,
});

t.test('failure words lead, the status follows', async (t) => {
  const cases: [EventRecord, string][] = [
    [ev('403 Forbidden: digest response for user 1003 did not match (wrong password)'), 'wrong password (403)'],
    [ev('403 Forbidden: digest response for user 1003 did not match (no such account)'), 'unknown number (403)'],
    [ev('403 Forbidden: digest response for user 1003@ did not match (no such account)'), 'unknown user 1003@ (403)'],
    [ev('403 Forbidden: digest user 1003@ does not own AOR 1003'), 'unknown user 1003@ (403)'],
    [ev('403 Forbidden: digest user 1004 does not own AOR 1003'), 'user does not own number (403)'],
    [ev('403 Forbidden: digest response for user 1003 did not match (wrong password); suspended (SS_ENDPOINT_REGISTER_RETRY)'), 'wrong password, suspended (403)'],
    [ev('403 Forbidden: source 10.0.0.9:5060 not in allow (auth_mode password)', { type: 'rejected' }), 'source not allowed (403)'],
    [ev('423 Interval Too Brief: asked 15 s < SS_ENDPOINT_MIN_EXPIRE 60 for sip:1003@127.0.0.1:5070', { type: 'rejected' }), 'expiry too short (423)'],
    [ev('403 Too Many Registrations: SERVER_REGISTRAR_MAX_BINDINGS 1 reached', { type: 'rejected' }), 'too many devices (403)'],
    [ev('1003 from 10.0.0.9 suspended for 180 s after 6 failed authentications', { type: 'locked_out' }), 'suspended'],
    [ev('403 Forbidden: number held by an operator (kick-and-hold)', { type: 'rejected' }), 'held by operator (403)'],
    [ev('499 Something New: with a reason', { type: 'rejected' }), 'Something New (499)'],
  ];
  for (const [e, want] of cases) t.equal(eventWords(e), want, e.detail);
});

t.test('hints: what happened and what to do', async (t) => {
  const sipsak403 = 'digest username `1003@` is not an account; sipsak needs -u 1003';
  t.equal(eventHint(ev('403 Forbidden: digest response for user 1003@ did not match (no such account)')), sipsak403);
  t.equal(eventHint(ev('403 Forbidden: digest user 1003@ does not own AOR 1003')), sipsak403, 'the newer registrar text too');
  t.equal(eventHint(ev('403 Forbidden: digest user 1003@ does not own AOR 1003', { userAgent: 'Yealink' })),
    'digest username `1003@` is not an account; set the phone\'s authentication user to 1003', 'another UA: no sipsak advice');
  t.equal(eventHint(ev('423 Interval Too Brief: asked 15 s < SS_ENDPOINT_MIN_EXPIRE 60 for sip:1003@127.0.0.1:5070', { type: 'rejected' })),
    'asked 15 s, minimum is SS_ENDPOINT_MIN_EXPIRE 60; sipsak -U asks 15 s unless given -x 60');
  t.equal(eventHint(ev('403 Forbidden: digest response for user 1003 did not match (no such account)')),
    '1003 is not in the config\'s accounts: add it under accounts: and reload');
  t.equal(eventHint(ev('200 OK: registered', { type: 'registered' })), null);
});

t.test('lockout and trunk words', async (t) => {
  const l = { key: 'k', kind: 'pair' as const, address: '10.0.0.9', number: '1003', untilMs: 0, createdAtMs: 0, failures: 6, reason: 'SS_ENDPOINT_REGISTER_RETRY: 6 failed authentications' };
  t.equal(lockoutWords(l), 'wrong password x6');
  t.equal(lockoutWords({ ...l, kind: 'address', failures: 5, reason: 'SS_REGISTER_SCANNER_NUMBERS: failed authentications for 5 different numbers' }), 'scanner: 5 numbers');
  t.equal(lockoutWords({ ...l, kind: 'number', reason: 'held by console after force unregister' }), 'held by console');
  const r = (lastStatus: number | null, lastReason: string): TrunkStateRecord => ({
    name: 'x', state: 'retry_wait', lastStatus, lastReason, grantedExpiresS: null, lastSuccessAtMs: null, failureCount: 1, nextActionAtMs: null,
    registrar: '', contact: '', updatedAtMs: 0,
  });
  t.equal(trunkWords(r(401, 'bad credentials: 401 Unauthorized again after our credentials for user "4420" (check auth_user and password)')), 'bad credentials (401)');
  t.equal(trunkWords(r(null, 'no answer: 127.0.0.1:5060 did not answer within 32 s')), 'no answer');
  t.equal(trunkWords(r(200, 'registered; asked 3600 s, granted 60 s')), 'registered (200)');
  t.equal(trunkWords(null), '-');
});
