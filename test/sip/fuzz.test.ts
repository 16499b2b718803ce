// Seeded mutation fuzzing of the parser and the response writer (issue 3: "never crashes on any byte
// sequence"). A xorshift32 PRNG makes every run the same; a failure prints its seed and iteration so the
// exact datagram can be rebuilt.
import t from 'tap';
import {
  SipMessage, parse, parseFailures, ResponseWriter, failureResponse, responseTarget, ServerTransactions, DigestParams,
  parseDigestHeader, Hdr, type ParseFailure, type ResponseTarget,
} from '../../src/sip/index.js';
import { limits } from '../../src/limits.js';
import { register, sip } from './helpers.js';

const SEED = 0x5eed_1234;
const ITERATIONS = 200_000;

let state = SEED;
function next(): number { // xorshift32 (Marsaglia 2003)
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state;
}
function below(n: number): number { return next() % n; }

const seeds: Buffer[] = [
  register(),
  register({ rport: false, viaHost: '[2001:db8::1]' }),
  sip(['REGISTER sip:sipreg.example SIP/2.0', 'v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1;rport', 'f: "A, \\"B\\"" <sip:1@h>;tag=x',
    't: sip:1@h', 'i: c', 'CSeq: 1 REGISTER', 'm: <sip:1@10.0.0.1>;expires=60;q=0.5, "X" <sip:1@[::1]:5070>;+sip.instance="<urn:x>";reg-id=1',
    'Expires: 60', 'l: 0']),
  sip(['SIP/2.0 401 Unauthorized', 'Via: SIP/2.0/UDP 10.0.0.5;branch=z9hG4bKo;rport=4000;received=1.2.3.4', 'From: <sip:a@h>;tag=1',
    'To: <sip:a@h>;tag=2', 'Call-ID: c', 'CSeq: 5 REGISTER', 'WWW-Authenticate: Digest realm="r", nonce="n", qop="auth", algorithm=MD5',
    'Retry-After: 30', 'Min-Expires: 60', 'Content-Length: 0']),
];
const INSERTS = [0x0d, 0x0a, 0x00, 0x22, 0x2c, 0x3c, 0x3e, 0x3b, 0x3a, 0x20, 0x5c, 0x40, 0x3d, 0x09, 0xff];
const HUGE = Buffer.from('99999999999999999999999999999999');

const scratch = Buffer.alloc(limits.messageSizeMax * 2);

/** Applies 1..3 mutations of the seed into scratch; returns the length. */
function mutate(seed: Buffer): number {
  let n = seed.copy(scratch, 0);
  const count = 1 + below(3);
  for (let m = 0; m < count; m++) {
    if (n === 0) break;
    const at = below(n);
    switch (below(8)) {
      case 0: { // bit flips
        const flips = 1 + below(4);
        for (let i = 0; i < flips; i++) scratch[below(n)]! ^= 1 << below(8);
        break;
      }
      case 1: n = at; break; // truncation
      case 2: { // insertion of a structural byte
        if (n + 1 > scratch.length) break;
        scratch.copy(scratch, at + 1, at, n);
        scratch[at] = INSERTS[below(INSERTS.length)]!;
        n++;
        break;
      }
      case 3: { // duplicate a header line
        const lineS = scratch.lastIndexOf(0x0a, at) + 1;
        const lineE = scratch.indexOf(0x0a, at);
        if (lineE < 0 || lineE >= n) break;
        const len = lineE + 1 - lineS;
        if (n + len > scratch.length) break;
        scratch.copy(scratch, lineE + 1 + len, lineE + 1, n);
        scratch.copy(scratch, lineE + 1, lineS, lineE + 1);
        n += len;
        break;
      }
      case 4: { // a digit run becomes huge
        let d = at;
        while (d < n && (scratch[d]! < 0x30 || scratch[d]! > 0x39)) d++;
        if (d >= n || n + HUGE.length > scratch.length) break;
        scratch.copy(scratch, d + HUGE.length, d, n);
        HUGE.copy(scratch, d);
        n += HUGE.length;
        break;
      }
      case 5: { // delete a range
        const len = 1 + below(Math.min(40, n - at));
        scratch.copy(scratch, at, at + len, n);
        n -= len;
        break;
      }
      case 6: scratch[at] = below(256); break; // random byte
      default: { // repeat a slice many times (long values, many commas)
        const len = 1 + below(Math.min(16, n - at));
        const times = 1 + below(64);
        const add = len * times;
        if (n + add > scratch.length) break;
        scratch.copy(scratch, at + add, at, n);
        for (let i = 0; i < times; i++) scratch.copy(scratch, at + i * len, at + add, at + add + len);
        n += add;
        break;
      }
    }
  }
  return n;
}

t.test(`${ITERATIONS} mutated messages: no throw, known codes, bounded offsets`, async (t) => {
  const known = new Set<string>(parseFailures);
  const msg = new SipMessage();
  const writer = new ResponseWriter();
  const out = Buffer.alloc(limits.responseSizeMax);
  const target: ResponseTarget = { address: '', port: 0 };
  const tx = new ServerTransactions(256);
  const digest = new DigestParams();
  const src = { address: '198.51.100.20', port: 5060 };
  const byCode = new Map<string, number>();
  let thrown = 0;
  let unknownCodes = 0;
  let badOffsets = 0;
  let firstProblem = '';
  for (let i = 0; i < ITERATIONS; i++) {
    const n = mutate(seeds[i % seeds.length]!);
    const buf = scratch.subarray(0, n);
    try {
      const failure: ParseFailure | null = parse(msg, buf);
      const code = failure ?? 'ok';
      byCode.set(code, (byCode.get(code) ?? 0) + 1);
      if (failure !== null && !known.has(failure)) { unknownCodes++; firstProblem ||= `unknown code ${failure} at ${i}`; }
      if (msg.length > n || msg.bodyStart > msg.bodyEnd || msg.bodyEnd > n || msg.contactCount > limits.contactsPerRequestMax) {
        badOffsets++;
        firstProblem ||= `offsets at ${i}`;
      }
      for (let h = 0; h < msg.headerCount; h++) {
        if (msg.valueStart(h) > msg.valueEnd(h) || msg.valueEnd(h) > n) { badOffsets++; firstProblem ||= `header offsets at ${i}`; }
      }
      if (failure === null || msg.canRespond()) {
        if (msg.isRequest) {
          const status = failure === null ? 200 : failureResponse(failure).status;
          const len = writer.begin(out, msg, status, 'X', src).contact('<sip:a@b>', 60).finish();
          if (typeof len === 'number' && len > out.length) { badOffsets++; firstProblem ||= `write length at ${i}`; }
          responseTarget(msg, src, target);
          if (failure === null && tx.receive(msg, src, i) === 'new' && typeof len === 'number') tx.complete(tx.handle, out, len, i);
        }
      }
      if (failure === null && (i & 7) === 0) {
        // Accessors make strings: they must not throw either.
        msg.requestUri.user(); msg.requestUri.host(); msg.via.branch(); msg.via.received(); msg.from.displayName();
        msg.to.tag(); msg.callId(); msg.userAgent(); msg.hasOption(Hdr.Supported, 'path');
        for (let c = 0; c < msg.contactCount; c++) { const v = msg.contact(c); v.uri.raw(); v.instance(); v.displayName(); v.uri.param('transport'); }
        for (let h = msg.nextHeader(Hdr.Authorization, -1); h >= 0; h = msg.nextHeader(Hdr.Authorization, h)) {
          if (parseDigestHeader(digest, msg, h) === null) { digest.username(); void digest.nc; void digest.algorithm; }
        }
        for (let h = msg.nextHeader(Hdr.WwwAuthenticate, -1); h >= 0; h = msg.nextHeader(Hdr.WwwAuthenticate, h)) {
          if (parseDigestHeader(digest, msg, h) === null) { digest.realm(); void digest.qopAuth; }
        }
      }
    } catch (err) {
      thrown++;
      firstProblem ||= `threw at iteration ${i} (seed ${SEED}): ${String(err)} on ${JSON.stringify(buf.toString('latin1'))}`;
    }
  }
  t.equal(thrown, 0, firstProblem || 'nothing threw');
  t.equal(unknownCodes, 0, 'every failure is a ParseFailure');
  t.equal(badOffsets, 0, 'offsets stay inside the datagram');
  t.ok((byCode.get('ok') ?? 0) > ITERATIONS / 20, 'a fair share still parses (the mutations are not all fatal)');
  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries([...byCode].sort((a, b) => b[1] - a[1])))}`);
});

t.test('hostile shapes', async (t) => {
  const msg = new SipMessage();
  const rows: Array<[string, Buffer]> = [
    ['all NULs', Buffer.alloc(2000)],
    ['all CRs', Buffer.alloc(2000, 0x0d)],
    ['all LFs', Buffer.alloc(2000, 0x0a)],
    ['a folded header forever', Buffer.from('OPTIONS sip:a SIP/2.0\r\nVia: x' + '\r\n x'.repeat(2000))],
    ['commas forever', sip(['REGISTER sip:a SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'Contact: ' + ','.repeat(4000)])],
    ['quotes forever', sip(['REGISTER sip:a SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1', 'From: ' + '"\\'.repeat(1000)])],
    ['headers only names', Buffer.from('OPTIONS sip:a SIP/2.0\r\n' + 'a:\r\n'.repeat(1000) + '\r\n')],
    ['max-size datagram', Buffer.concat([register(), Buffer.alloc(limits.messageSizeMax - register().length, 0x61)])],
  ];
  for (const [name, buf] of rows) {
    let result: string | null = 'threw';
    try { result = parse(msg, buf); } catch { /* recorded as 'threw' */ }
    t.not(result, 'threw', `${name}: ${String(result)}`);
  }
});
