import t from 'tap';
import {
  SipMessage, parse, ResponseWriter, responseTarget, writeRequest, newBranch, newTag, newCallId, failureResponse,
  type ResponseTarget,
} from '../../src/sip/index.js';
import { limits } from '../../src/limits.js';
import { sip } from './helpers.js';

const CRLF = '\r\n';
const msg = new SipMessage();
const w = new ResponseWriter();
const out = Buffer.alloc(limits.responseSizeMax);

function request(via: string[], extra: string[] = []): SipMessage {
  const failure = parse(msg, sip([
    'REGISTER sip:sipreg.example SIP/2.0', ...via.map((v) => `Via: ${v}`),
    'From: "A" <sip:1001@sipreg.example>;tag=ft', 'To: <sip:1001@sipreg.example>', 'Call-ID: cid1', 'CSeq: 2 REGISTER',
    ...extra, 'Content-Length: 0',
  ]));
  if (failure !== null) throw new Error(failure);
  return msg;
}

/** The To tag the writer added (16 hex digits), read back from the written bytes. */
function tagOf(text: string): string {
  const m = /\r\nTo: [^\r]*;tag=([0-9a-f]{16})\r\n/.exec(text);
  return m === null ? '' : m[1]!;
}

function write200(source: { address: string; port: number }): string {
  const n = w.begin(out, msg, 200, 'OK', source).finish();
  if (typeof n === 'string') throw new Error(n);
  return out.toString('utf8', 0, n);
}

t.test('Via: received and rport (RFC 3261 §18.2.1, RFC 3581 §4)', async (t) => {
  const rows: Array<[string, { address: string; port: number }, string]> = [
    // [top Via as sent, source, top Via as answered]
    ['SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKa;rport', { address: '203.0.113.5', port: 40000 },
      'SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKa;rport=40000;received=203.0.113.5'],
    ['SIP/2.0/UDP 192.168.1.20;rport;branch=z9hG4bKa', { address: '203.0.113.5', port: 1024 },
      'SIP/2.0/UDP 192.168.1.20;rport=1024;branch=z9hG4bKa;received=203.0.113.5'],
    ['SIP/2.0/UDP 192.168.1.20;branch=z9hG4bKa;rport=', { address: '203.0.113.5', port: 7 },
      'SIP/2.0/UDP 192.168.1.20;branch=z9hG4bKa;rport=7;received=203.0.113.5'],
    // rport present, host equal to the source: RFC 3581 still wants received.
    ['SIP/2.0/UDP 203.0.113.5:5062;branch=z9hG4bKa;rport', { address: '203.0.113.5', port: 5062 },
      'SIP/2.0/UDP 203.0.113.5:5062;branch=z9hG4bKa;rport=5062;received=203.0.113.5'],
    // No rport: received only when the sent-by host differs.
    ['SIP/2.0/UDP 203.0.113.5:5062;branch=z9hG4bKa', { address: '203.0.113.5', port: 5062 },
      'SIP/2.0/UDP 203.0.113.5:5062;branch=z9hG4bKa'],
    ['SIP/2.0/UDP phone.example;branch=z9hG4bKa', { address: '203.0.113.5', port: 5060 },
      'SIP/2.0/UDP phone.example;branch=z9hG4bKa;received=203.0.113.5'],
    // rport already filled in (a proxy did it): left alone.
    ['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa;rport=5555', { address: '203.0.113.5', port: 5060 },
      'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa;rport=5555;received=203.0.113.5'],
    // An existing received is kept, not duplicated.
    ['SIP/2.0/UDP 10.0.0.1;received=198.51.100.1;branch=z9hG4bKa', { address: '203.0.113.5', port: 5060 },
      'SIP/2.0/UDP 10.0.0.1;received=198.51.100.1;branch=z9hG4bKa'],
    // IPv6: brackets do not make the host differ; the received value is written without brackets (RFC 3261 §25.1).
    ['SIP/2.0/UDP [::1]:5062;branch=z9hG4bKa', { address: '::1', port: 5062 }, 'SIP/2.0/UDP [::1]:5062;branch=z9hG4bKa'],
    ['SIP/2.0/UDP [2001:db8::5];branch=z9hG4bKa;rport', { address: '2001:db8::9', port: 5070 },
      'SIP/2.0/UDP [2001:db8::5];branch=z9hG4bKa;rport=5070;received=2001:db8::9'],
    // Several values in the top line: only the first (the top Via) changes; folds elsewhere kept verbatim.
    ['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa;rport , SIP/2.0/UDP proxy;branch=z9hG4bKp', { address: '203.0.113.5', port: 9 },
      'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa;rport=9;received=203.0.113.5 , SIP/2.0/UDP proxy;branch=z9hG4bKp'],
  ];
  for (const [via, source, expected] of rows) {
    request([via, 'SIP/2.0/UDP second.example;branch=z9hG4bK2']);
    const text = write200(source);
    t.equal(text.split(CRLF)[1], `Via: ${expected}`, via);
    t.equal(text.split(CRLF)[2], 'Via: SIP/2.0/UDP second.example;branch=z9hG4bK2', `${via}: lower Via copied`);
  }
});

t.test('exact bytes of a 200 with extra headers, in call order', async (t) => {
  request(['SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKabc;rport', 'SIP/2.0/UDP proxy.example;branch=z9hG4bKp1']);
  const allowLines = Buffer.from('Allow: REGISTER, OPTIONS\r\nSupported: path, outbound\r\n', 'latin1');
  const n = w.begin(out, msg, 200, 'OK', { address: '203.0.113.5', port: 40000 })
    .contact('<sip:1001@192.168.1.20:5060>;+sip.instance="<urn:uuid:1>"', 3600)
    .contact('<sip:1001@10.0.0.9>', 0)
    .header('Date', 'Sat, 13 Nov 2010 23:29:00 GMT')
    .headerNum('Min-Expires', 60)
    .raw(allowLines)
    .header('Server', 'sipreg/0.1 (ü)')
    .finish();
  t.type(n, 'number');
  const text = out.toString('utf8', 0, n as number);
  const tag = tagOf(text);
  t.match(tag, /^[0-9a-f]{16}$/);
  t.equal(text, [
    'SIP/2.0 200 OK',
    'Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKabc;rport=40000;received=203.0.113.5',
    'Via: SIP/2.0/UDP proxy.example;branch=z9hG4bKp1',
    'From: "A" <sip:1001@sipreg.example>;tag=ft',
    `To: <sip:1001@sipreg.example>;tag=${tag}`,
    'Call-ID: cid1',
    'CSeq: 2 REGISTER',
    'Contact: <sip:1001@192.168.1.20:5060>;+sip.instance="<urn:uuid:1>";expires=3600',
    'Contact: <sip:1001@10.0.0.9>;expires=0',
    'Date: Sat, 13 Nov 2010 23:29:00 GMT',
    'Min-Expires: 60',
    'Allow: REGISTER, OPTIONS',
    'Supported: path, outbound',
    'Server: sipreg/0.1 (ü)',
    'Content-Length: 0',
    '', '',
  ].join(CRLF));
  t.equal(n, Buffer.byteLength(text));
  // What we write parses, and carries what the trunk client of the far end would read.
  const back = new SipMessage();
  t.equal(parse(back, out.subarray(0, n as number)), null);
  t.equal(back.statusCode, 200);
  t.equal(back.via.rport, 40000);
  t.equal(back.via.received(), '203.0.113.5');
  t.equal(back.contactCount, 2);
  t.equal(back.contact(0).expires, 3600);
  t.equal(back.minExpires, 60);
});

t.test('To tag: added once, stable for retransmissions, absent on 100', async (t) => {
  const via = 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKstable;rport';
  const src = { address: '203.0.113.5', port: 5060 };
  request([via]);
  const first = tagOf(write200(src));
  request([via]);
  t.equal(tagOf(write200(src)), first, 'same request, same tag');
  request(['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKother;rport']);
  t.not(tagOf(write200(src)), first, 'another transaction, another tag');
  request([via]);
  let n = w.begin(out, msg, 100, 'Trying', src).finish() as number;
  t.match(out.toString('latin1', 0, n), /\r\nTo: <sip:1001@sipreg.example>\r\n/, '100 Trying: no tag (RFC 3261 §8.2.6.1)');
  parse(msg, sip(['OPTIONS sip:b@h SIP/2.0', `Via: ${via}`, 'From: <sip:a@h>;tag=f', 'To: <sip:b@h>;tag=theirs', 'Call-ID: c', 'CSeq: 1 OPTIONS']));
  n = w.begin(out, msg, 200, 'OK', src).finish() as number;
  t.match(out.toString('latin1', 0, n), /\r\nTo: <sip:b@h>;tag=theirs\r\n/, 'an existing tag is kept');
  // RFC 2543 request without branch: the tag still derives from the whole top Via and is stable.
  parse(msg, sip(['OPTIONS sip:b@h SIP/2.0', 'Via: SIP/2.0/UDP old.example', 'From: <sip:a@h>', 'To: <sip:b@h>', 'Call-ID: c', 'CSeq: 1 OPTIONS']));
  const old = tagOf(write200(src));
  t.match(old, /^[0-9a-f]{16}$/);
  parse(msg, sip(['OPTIONS sip:b@h SIP/2.0', 'Via: SIP/2.0/UDP old.example', 'From: <sip:a@h>', 'To: <sip:b@h>', 'Call-ID: c', 'CSeq: 1 OPTIONS']));
  t.equal(tagOf(write200(src)), old);
});

t.test('400 for a request that failed to parse after its Via', async (t) => {
  const failure = parse(msg, sip(['OPTIONS sip:b@h SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bKx', 'From: <sip:a@h>;tag=1', 'To: <sip:b@h>',
    'Call-ID: c', 'CSeq: 99999999999 OPTIONS']));
  t.equal(failure, 'ERR_SIP_CSEQ');
  t.ok(msg.canRespond());
  const r = failureResponse(failure!);
  const n = w.begin(out, msg, r.status, r.reason, { address: '192.0.2.1', port: 5060 }).finish() as number;
  const text = out.toString('latin1', 0, n);
  t.equal(text.split(CRLF)[0], 'SIP/2.0 400 Bad Request - Bad CSeq');
  t.match(text, /\r\nCSeq: 99999999999 OPTIONS\r\n/, 'copied as received');
  // Missing From/To/Call-ID (RFC 4475 §3.3.1): answered with what there is.
  t.equal(parse(msg, sip(['INVITE sip:b@h SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bKx', 'CSeq: 1 INVITE'])), 'ERR_SIP_MISSING_HEADER');
  const m = w.begin(out, msg, 400, 'Bad Request', { address: '192.0.2.1', port: 5060 }).finish() as number;
  t.equal(out.toString('latin1', 0, m), ['SIP/2.0 400 Bad Request', 'Via: SIP/2.0/UDP h;branch=z9hG4bKx;received=192.0.2.1',
    'CSeq: 1 INVITE', 'Content-Length: 0', '', ''].join(CRLF));
});

t.test('never past the end: overflow is a code', async (t) => {
  request(['SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKa;rport']);
  const full = w.begin(out, msg, 200, 'OK', { address: '203.0.113.5', port: 5060 }).finish() as number;
  for (const size of [0, 1, 10, 40, 100, full - 1]) {
    const small = Buffer.alloc(size + 16, 0xee);
    const r = w.begin(small, msg, 200, 'OK', { address: '203.0.113.5', port: 5060 }, size).finish();
    t.equal(r, 'ERR_SIP_WRITE_OVERFLOW', `size ${size}`);
    t.ok(small.subarray(size).every((b) => b === 0xee), `size ${size}: nothing written past the bound`);
  }
  const exact = Buffer.alloc(full);
  t.equal(w.begin(exact, msg, 200, 'OK', { address: '203.0.113.5', port: 5060 }).finish(), full, 'exactly fits');
  const many = w.begin(out, msg, 200, 'OK', { address: '203.0.113.5', port: 5060 });
  for (let i = 0; i < 200; i++) many.contact(`<sip:user${i}@192.0.2.${i % 250}:5060;transport=udp>`, 3600);
  t.equal(many.finish(), 'ERR_SIP_WRITE_OVERFLOW', 'responseSizeMax bounds a 200 listing too many contacts');
  // The writer is reusable after an overflow.
  t.type(w.begin(out, msg, 200, 'OK', { address: '203.0.113.5', port: 5060 }).finish(), 'number');
});

t.test('responseTarget (RFC 3261 §18.2.2, RFC 3581 §4)', async (t) => {
  const target: ResponseTarget = { address: '', port: 0 };
  const rows: Array<[string, { address: string; port: number }, string, number]> = [
    ['SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKa;rport', { address: '203.0.113.5', port: 40000 }, '203.0.113.5', 40000],
    ['SIP/2.0/UDP 192.168.1.20:5070;branch=z9hG4bKa', { address: '203.0.113.5', port: 40000 }, '203.0.113.5', 5070],
    ['SIP/2.0/UDP 192.168.1.20;branch=z9hG4bKa', { address: '203.0.113.5', port: 40000 }, '203.0.113.5', 5060],
    ['SIP/2.0/UDP [2001:db8::1];branch=z9hG4bKa;rport', { address: '2001:db8::1', port: 5090 }, '2001:db8::1', 5090],
    ['SIP/2.0/UDP h;branch=z9hG4bKa;maddr=239.0.0.1', { address: '192.0.2.9', port: 5062 }, '192.0.2.9', 5060],
  ];
  for (const [via, source, address, port] of rows) {
    request([via]);
    responseTarget(msg, source, target);
    t.strictSame({ ...target }, { address, port }, via);
  }
});

t.test('outbound REGISTER and OPTIONS', async (t) => {
  const buf = Buffer.alloc(limits.messageSizeMax);
  const n = writeRequest(buf, {
    method: 'REGISTER', requestUri: 'sip:carrier.example', viaHost: '198.51.100.7', viaPort: 5060, branch: 'z9hG4bKout1',
    from: 'sip:4420000000@carrier.example', fromTag: 'ft1', to: 'sip:4420000000@carrier.example', callId: 'call-1@198.51.100.7',
    cseq: 3, contact: '<sip:4420000000@198.51.100.7:5060>', expiresS: 600,
    authorization: 'Digest username="4420000000", realm="carrier", nonce="n", uri="sip:carrier.example", response="r"',
    privacy: 'id', userAgent: 'sipreg/0.1',
  });
  t.equal(buf.toString('utf8', 0, n as number), [
    'REGISTER sip:carrier.example SIP/2.0',
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKout1;rport',
    'Max-Forwards: 70',
    'From: <sip:4420000000@carrier.example>;tag=ft1',
    'To: <sip:4420000000@carrier.example>',
    'Call-ID: call-1@198.51.100.7',
    'CSeq: 3 REGISTER',
    'Contact: <sip:4420000000@198.51.100.7:5060>',
    'Expires: 600',
    'Authorization: Digest username="4420000000", realm="carrier", nonce="n", uri="sip:carrier.example", response="r"',
    'Privacy: id',
    'User-Agent: sipreg/0.1',
    'Content-Length: 0',
    '', '',
  ].join(CRLF));
  const m = writeRequest(buf, {
    method: 'OPTIONS', requestUri: 'sip:phone@[2001:db8::5]:5062', viaHost: '2001:db8::1', viaPort: 5060, branch: newBranch(),
    from: '"sipreg" <sip:keepalive@sipreg.example>', fromTag: newTag(), to: 'sip:phone@[2001:db8::5]:5062', callId: newCallId('sipreg.example'),
    cseq: 1, proxyAuthorization: true, authorization: 'Digest x=1', extraHeaders: [['Accept', 'application/sdp']],
  });
  t.type(m, 'number');
  const back = new SipMessage();
  t.equal(parse(back, buf.subarray(0, m as number)), null, 'our OPTIONS parses');
  t.equal(back.via.host(), '[2001:db8::1]');
  t.ok(back.via.hasRport);
  t.ok(back.via.isRfc3261Branch);
  t.equal(back.from.displayName(), 'sipreg');
  t.equal(back.requestUri.port, 5062);
  t.match(buf.toString('utf8', 0, m as number), /\r\nProxy-Authorization: Digest x=1\r\nAccept: application\/sdp\r\n/);
  t.equal(writeRequest(Buffer.alloc(64), { method: 'OPTIONS', requestUri: 'sip:x', viaHost: 'h', viaPort: 5060, branch: 'z9hG4bK1', from: 'sip:a@h', fromTag: 't', to: 'sip:b@h', callId: 'c', cseq: 1 }),
    'ERR_SIP_WRITE_OVERFLOW');
  t.match(newBranch(), /^z9hG4bK[0-9a-f]{24}$/);
  t.not(newTag(), newTag());
});
