import t from 'tap';
import {
  DigestParams, DigestAlgorithm, parseDigest, parseDigestHeader, computeHa1, computeHa2, computeResponse, sessionHa1,
  verifyDigest, buildAuthorization, formatChallenge, challengeFrom, SipMessage, parse, Hdr,
} from '../../src/sip/index.js';
import { register } from './helpers.js';

const p = new DigestParams();
function parsed(value: string): DigestParams {
  const buf = Buffer.from(value, 'utf8');
  const failure = parseDigest(p, buf, 0, buf.length);
  if (failure !== null) throw new Error(failure);
  return p;
}

t.test('RFC 2617 §3.5 (MD5, qop=auth)', async (t) => {
  const ha1 = computeHa1(DigestAlgorithm.MD5, 'Mufasa', 'testrealm@host.com', 'Circle Of Life');
  const ha2 = computeHa2(DigestAlgorithm.MD5, 'GET', '/dir/index.html');
  t.equal(computeResponse(DigestAlgorithm.MD5, ha1, 'dcd98b7102dd2f0e8b11d0f600bfb0c093', '00000001', '0a4f113b', 'auth', ha2),
    '6629fae49393a05397450978507c4ef1');
  const creds = parsed('Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
    'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", ' +
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"');
  t.ok(verifyDigest(creds, 'GET', ha1), 'verifies');
  t.notOk(verifyDigest(creds, 'POST', ha1), 'another method does not');
  t.notOk(verifyDigest(creds, 'GET', computeHa1(DigestAlgorithm.MD5, 'Mufasa', 'testrealm@host.com', 'wrong')), 'another password does not');
  t.equal(creds.nc, 1);
  t.equal(creds.opaque(), '5ccc069c403ebaf9f0171e9517f40e41');
  // Upper-case hex in the response is accepted (liberal), a truncated one is not.
  t.ok(verifyDigest(parsed('Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
    'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629FAE49393A05397450978507C4EF1"'), 'GET', ha1));
  t.notOk(verifyDigest(parsed('Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
    'uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef"'), 'GET', ha1));
  t.notOk(verifyDigest(parsed('Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
    'uri="/dir/index.html", qop=auth, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1"'), 'GET', ha1), 'qop without nc');
});

t.test('RFC 7616 §3.9.1 (SHA-256 and MD5)', async (t) => {
  const nonce = '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v';
  const cnonce = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
  const rows: Array<[number, string]> = [
    [DigestAlgorithm.SHA256, '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
    [DigestAlgorithm.MD5, '8ca523f5e9506fed4657c9700eebdbec'],
  ];
  for (const [alg, expected] of rows) {
    const a = alg as typeof DigestAlgorithm.SHA256;
    const ha1 = computeHa1(a, 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    t.equal(computeResponse(a, ha1, nonce, '00000001', cnonce, 'auth', computeHa2(a, 'GET', '/dir/index.html')), expected);
    const auth = buildAuthorization({ realm: 'http-auth@example.org', nonce, algorithm: a, qopAuth: true, opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS' },
      { username: 'Mufasa', password: 'Circle of Life', method: 'GET', uri: '/dir/index.html', cnonce, nc: 1 });
    const creds = parsed(auth);
    t.equal(creds.response(), expected, 'the client builds the RFC response');
    t.equal(creds.algorithm, a);
    t.ok(verifyDigest(creds, 'GET', ha1), 'the server verifies it');
  }
});

t.test('-sess and RFC 2069 (no qop)', async (t) => {
  const ha1 = computeHa1(DigestAlgorithm.MD5, 'u', 'r', 'p');
  const sess = buildAuthorization({ realm: 'r', nonce: 'n', algorithm: DigestAlgorithm.MD5Sess, qopAuth: true },
    { username: 'u', password: 'p', method: 'REGISTER', uri: 'sip:r', cnonce: 'c', nc: 2 });
  const creds = parsed(sess);
  t.equal(creds.algorithm, DigestAlgorithm.MD5Sess);
  t.equal(creds.response(), computeResponse(DigestAlgorithm.MD5, sessionHa1(DigestAlgorithm.MD5, ha1, 'n', 'c'), 'n', '00000002', 'c', 'auth',
    computeHa2(DigestAlgorithm.MD5, 'REGISTER', 'sip:r')));
  t.ok(verifyDigest(creds, 'REGISTER', ha1));
  const old = parsed(buildAuthorization({ realm: 'r', nonce: 'n', algorithm: DigestAlgorithm.MD5, qopAuth: false },
    { username: 'u', password: 'p', method: 'REGISTER', uri: 'sip:r', cnonce: 'c', nc: 1 }));
  t.notOk(old.hasQop);
  t.ok(verifyDigest(old, 'REGISTER', ha1));
  t.notOk(verifyDigest(parsed('Digest username="u", nonce="n", uri="sip:r", response="x", algorithm=SHA-1'), 'REGISTER', ha1), 'unknown algorithm');
  t.notOk(verifyDigest(parsed('Digest username="u", nonce="n", uri="sip:r"'), 'REGISTER', ha1), 'no response');
});

t.test('liberal parsing (issue 3)', async (t) => {
  const rows: Array<[string, Record<string, unknown>]> = [
    ['Digest username="1001",realm="sipreg",nonce="abc",uri="sip:sipreg",response="r",algorithm=MD5,qop=auth,nc=00000001,cnonce="c"',
      { username: '1001', realm: 'sipreg', nonce: 'abc', uri: 'sip:sipreg', algorithm: DigestAlgorithm.MD5, qop: 'auth', nc: 1, cnonce: 'c' }],
    ['digest   USERNAME = "1001" ,  Realm="sipreg"  ,  ALGORITHM="md5",  NC=0000000a,  QOP="auth"',
      { username: '1001', realm: 'sipreg', algorithm: DigestAlgorithm.MD5, nc: 10, qop: 'auth' }],
    ['Digest realm=sipreg, nonce=abc, username=1001, algorithm="SHA-256"',
      { username: '1001', realm: 'sipreg', nonce: 'abc', algorithm: DigestAlgorithm.SHA256 }],
    ['Digest username="a\\"b", realm="r, with comma", unknown="x=y, z", uri="sip:a;b=c"',
      { username: 'a"b', realm: 'r, with comma', uri: 'sip:a;b=c', algorithm: DigestAlgorithm.MD5 }],
    ['Digest ,, username="u",, realm="r" ,', { username: 'u', realm: 'r' }],
    ['Digest realm="carrier", nonce="n", algorithm=SHA-512-256-sess, qop="auth,auth-int", stale=TRUE, opaque="o"',
      { realm: 'carrier', algorithm: DigestAlgorithm.SHA512_256Sess, qopAuth: true, stale: true, opaque: 'o' }],
    ['Digest realm="x", qop="auth-int"', { qopAuth: false, stale: false, nc: -1 }],
    ['Digest realm="x", algorithm=SHA-1, nc=zz', { algorithm: DigestAlgorithm.Unknown, nc: -1 }],
  ];
  for (const [value, expected] of rows) {
    const d = parsed(value);
    const got: Record<string, unknown> = {
      username: d.username(), realm: d.realm(), nonce: d.nonce(), uri: d.uri(), algorithm: d.algorithm, qop: d.qop(), nc: d.nc,
      cnonce: d.cnonce(), qopAuth: d.qopAuth, stale: d.stale, opaque: d.opaque(),
    };
    const picked: Record<string, unknown> = {};
    for (const k of Object.keys(expected)) picked[k] = got[k];
    t.strictSame(picked, expected, value);
  }
  const fail = (value: string, code: string): void => {
    const buf = Buffer.from(value);
    t.equal(parseDigest(p, buf, 0, buf.length), code, value);
  };
  fail('NoOneKnowsThisScheme opaque-data=here', 'ERR_SIP_AUTH_SCHEME'); // RFC 4475 §3.3.7
  fail('Basic dXNlcjpwYXNz', 'ERR_SIP_AUTH_SCHEME');
  fail('Digestusername="u"', 'ERR_SIP_AUTH_SCHEME');
  fail('Digest username="unterminated', 'ERR_SIP_DIGEST');
  fail('Digest username', 'ERR_SIP_DIGEST');
  fail('Digest username="a" realm="b"', 'ERR_SIP_DIGEST');
  fail('Digest =x', 'ERR_SIP_DIGEST');
});

t.test('from a parsed REGISTER and a challenge round trip', async (t) => {
  const msg = new SipMessage();
  t.equal(parse(msg, register()), null);
  const i = msg.nextHeader(Hdr.Authorization, -1);
  t.equal(parseDigestHeader(p, msg, i), null);
  t.equal(p.username(), '1001');
  t.equal(p.uri(), 'sip:sipreg.example');
  t.equal(p.nc, 1);
  const challenge = formatChallenge({ realm: 'sipreg', nonce: 'abc123', algorithm: DigestAlgorithm.SHA256, qopAuth: true, stale: true, opaque: 'op' });
  t.equal(challenge, 'Digest realm="sipreg", nonce="abc123", algorithm=SHA-256, qop="auth", opaque="op", stale=true');
  const back = challengeFrom(parsed(challenge));
  t.strictSame(back, { realm: 'sipreg', nonce: 'abc123', algorithm: DigestAlgorithm.SHA256, qopAuth: true, stale: true, opaque: 'op' });
  t.equal(formatChallenge({ realm: 'r', nonce: 'n', algorithm: DigestAlgorithm.MD5, qopAuth: true }), 'Digest realm="r", nonce="n", algorithm=MD5, qop="auth"');
});

t.test('verification over the message bytes: escapes, SHA-256, unquoted values, oversize inputs', async (t) => {
  const ha1 = computeHa1(DigestAlgorithm.MD5, '1001', 'r', 'pw');
  const answer = (uri: string, nonce: string, alg: typeof DigestAlgorithm.MD5 | typeof DigestAlgorithm.SHA256 = DigestAlgorithm.MD5, h1 = ha1): string =>
    computeResponse(alg, h1, nonce, '0000000a', 'c1', 'auth', computeHa2(alg, 'REGISTER', uri));
  // A quoted-pair in the uri (RFC 3261 §25.1): the hash is over the unescaped value, as phones compute it.
  t.ok(verifyDigest(parsed(`Digest username="1001", realm="r", nonce="n1", uri="sip:a\\"b@r", qop=auth, nc=0000000a, cnonce="c1", response="${answer('sip:a"b@r', 'n1')}"`), 'REGISTER', ha1));
  // Unquoted nonce and cnonce, quoted qop, parameters in another order.
  t.ok(verifyDigest(parsed(`Digest response="${answer('sip:r', 'n2')}", cnonce=c1, nc=0000000a, qop="auth", uri="sip:r", nonce=n2, realm="r", username="1001"`), 'REGISTER', ha1));
  const ha1s = computeHa1(DigestAlgorithm.SHA256, '1001', 'r', 'pw');
  t.ok(verifyDigest(parsed(`Digest username="1001", realm="r", nonce="n3", uri="sip:r", algorithm=SHA-256, qop=auth, nc=0000000a, cnonce="c1", response="${answer('sip:r', 'n3', DigestAlgorithm.SHA256, ha1s)}"`), 'REGISTER', ha1s));
  t.notOk(verifyDigest(parsed(`Digest username="1001", realm="r", nonce="n3", uri="sip:r", algorithm=SHA-256, qop=auth, nc=0000000a, cnonce="c1", response="${answer('sip:r', 'n3', DigestAlgorithm.SHA256, ha1s)}"`), 'REGISTER', ha1), 'the MD5 HA1 does not verify a SHA-256 answer');
  // A uri longer than any hash input we assemble: refused, not thrown, not accepted with an empty response.
  const long = `sip:${'x'.repeat(5000)}@r`;
  t.notOk(verifyDigest(parsed(`Digest username="1001", realm="r", nonce="n4", uri="${long}", qop=auth, nc=0000000a, cnonce="c1", response="${answer(long, 'n4')}"`), 'REGISTER', ha1));
  t.notOk(verifyDigest(parsed(`Digest username="1001", realm="r", nonce="n4", uri="${long}", qop=auth, nc=0000000a, cnonce="c1", response=""`), 'REGISTER', ha1));
  t.notOk(verifyDigest(parsed(`Digest username="1001", realm="r", nonce="n5", uri="sip:r", qop=auth, nc=0000000a, cnonce="", response="${answer('sip:r', 'n5')}"`), 'REGISTER', ha1), 'empty cnonce with qop');
  t.notOk(verifyDigest(parsed(`Digest username="1001", realm="r", nonce="n5", uri="sip:r", qop=auth-int, nc=0000000a, cnonce="c1", response="${answer('sip:r', 'n5')}"`), 'REGISTER', ha1), 'qop other than auth');
});
