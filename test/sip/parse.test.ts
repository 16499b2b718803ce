import t from 'tap';
import { SipMessage, parse, Hdr, Method, Scheme, parseFailures, failureResponse } from '../../src/sip/index.js';
import { limits } from '../../src/limits.js';
import { sip, register, expectParsed, expectFailure, summary } from './helpers.js';

// The mandatory headers, to be combined with what a row is about.
const base = (method = 'OPTIONS'): string[] => [
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKabc',
  'From: <sip:alice@example.com>;tag=f1',
  'To: <sip:bob@example.com>',
  'Call-ID: c1@192.0.2.1',
  `CSeq: 7 ${method}`,
];

t.test('start line', async (t) => {
  expectParsed(t, sip(['OPTIONS sip:bob@example.com SIP/2.0', ...base()]), {
    isRequest: true, method: 'OPTIONS', methodId: Method.OPTIONS, uri: 'sip:bob@example.com', uriUser: 'bob',
    uriHost: 'example.com', uriPort: -1, maxForwards: -1, contentLength: -1, body: '',
  });
  expectParsed(t, sip(['REGISTER sip:example.com:5070;transport=udp SIP/2.0', ...base('REGISTER')]), {
    methodId: Method.REGISTER, uriUser: '', uriHost: 'example.com', uriPort: 5070, uriParams: ';transport=udp',
  });
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  expectParsed(t, sip(['\r\nOPTIONS sip:b@h SIP/2.0', ...base()]), { method: 'OPTIONS' });
  // Liberal about extra SP between elements and after the version (RFC 4475 §3.1.2.9, §3.1.2.10).
  expectParsed(t, sip(['OPTIONS  sip:b@h   SIP/2.0  ', ...base()]), { uri: 'sip:b@h' });
  // The version is case-insensitive on receipt (RFC 3261 §7.1).
  expectParsed(t, sip(['OPTIONS sip:b@h sip/2.0', ...base()]), { method: 'OPTIONS' });
  // Unknown methods are tokens (RFC 3261 §7.1) and case-sensitive: 'register' is not REGISTER.
  expectParsed(t, sip(['register sip:b@h SIP/2.0', ...base('register')]), { method: 'register', methodId: Method.Other });
  expectParsed(t, sip(['SIP/2.0 200 OK', ...base()]), { isRequest: false, status: 200, reason: 'OK', uri: '' });
  expectParsed(t, sip(['SIP/2.0 100 ', ...base()]), { status: 100, reason: '' });
  expectParsed(t, sip(['SIP/2.0 401 Unauthorized - try again', ...base()]), { status: 401, reason: 'Unauthorized - try again' });

  expectFailure(t, 'REGISTER sip:d SIP/2.0\nVia: x\r\n\r\n', 'ERR_SIP_NO_CRLF');
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', 'Via: SIP/2.0/UDP h\nFrom: x']), 'ERR_SIP_NO_CRLF');
  expectFailure(t, Buffer.from('OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h\r\n'), 'ERR_SIP_NO_CRLF'); // no empty line
  expectFailure(t, Buffer.from('OPTIONS sip:b@h SIP/2.0'), 'ERR_SIP_NO_CRLF');
  expectFailure(t, sip(['OPTIONS sip:b@h', ...base()]), 'ERR_SIP_START_LINE');
  expectFailure(t, sip(['OPTIONS', ...base()]), 'ERR_SIP_START_LINE');
  // Leading SP/HT/NUL are skipped like CRLFs: keepalive bytes glued to a request by some NATs are harmless.
  expectParsed(t, sip([' OPTIONS sip:b@h SIP/2.0', ...base()]), { method: 'OPTIONS' });
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/3.0', ...base()]), 'ERR_SIP_VERSION', true); // answerable with 505
  expectFailure(t, sip(['OPTIONS sip:b@h HTTP/1.1', ...base()]), 'ERR_SIP_START_LINE');
  expectFailure(t, sip(['SIP/2.1 200 OK', ...base()]), 'ERR_SIP_VERSION');
  expectFailure(t, sip(['SIP/2.0 4294967301 Big', ...base()]), 'ERR_SIP_STATUS');
  expectFailure(t, sip(['SIP/2.0 099 Low', ...base()]), 'ERR_SIP_STATUS');
  expectFailure(t, sip(['SIP/2.0 700 High', ...base()]), 'ERR_SIP_STATUS');
  expectFailure(t, sip(['SIP/2.0 20 Short', ...base()]), 'ERR_SIP_STATUS');
  expectFailure(t, sip(['SIP/2.0 2x0 Hex', ...base()]), 'ERR_SIP_STATUS');
  // Keepalives (RFC 5626 §4.4.1) and empty datagrams are their own code, to be ignored quietly.
  expectFailure(t, Buffer.from('\r\n\r\n'), 'ERR_SIP_EMPTY');
  expectFailure(t, Buffer.alloc(0), 'ERR_SIP_EMPTY');
  expectFailure(t, Buffer.alloc(4), 'ERR_SIP_EMPTY');
  expectFailure(t, Buffer.alloc(limits.messageSizeMax + 1, 0x41), 'ERR_SIP_TOO_LARGE');
});

t.test('request-URI', async (t) => {
  const row = (uri: string, expected: Record<string, unknown>): void => {
    expectParsed(t, sip([`OPTIONS ${uri} SIP/2.0`, ...base()]), expected);
  };
  row('sips:alice:secret@example.com:5061;transport=tls;lr?subject=hi', {
    uriScheme: Scheme.Sips, uriUser: 'alice', uriPassword: 'secret', uriHost: 'example.com', uriPort: 5061,
    uriParams: ';transport=tls;lr', uriHeaders: 'subject=hi',
  });
  row('sip:[2001:db8::10]:5070', { uriScheme: Scheme.Sip, uriUser: '', uriHost: '[2001:db8::10]', uriPort: 5070 });
  row('sip:user@[::ffff:192.0.2.1]', { uriUser: 'user', uriHost: '[::ffff:192.0.2.1]', uriPort: -1 });
  row('SIP:User@Example.COM', { uriScheme: Scheme.Sip, uriUser: 'User', uriHost: 'Example.COM' });
  row('tel:+1-201-555-0123;phone-context=example.com', { uriScheme: Scheme.Tel, uriUser: '+1-201-555-0123', uriHost: '', uriParams: ';phone-context=example.com' });
  row('urn:service:sos', { uriScheme: Scheme.Other, uriHost: '' });
  // RFC 4475 §3.1.1.9: ';' in the user part is the user's.
  row('sip:user;par=u%40example.net@example.com', { uriUser: 'user;par=u%40example.net', uriHost: 'example.com' });
  expectFailure(t, sip(['OPTIONS sip:2001:db8::10 SIP/2.0', ...base()]), 'ERR_SIP_REQUEST_URI', true); // RFC 5118 §4.2
  expectFailure(t, sip(['OPTIONS <sip:b@h> SIP/2.0', ...base()]), 'ERR_SIP_REQUEST_URI', true);
  expectFailure(t, sip(['OPTIONS sip:b@h; lr SIP/2.0', ...base()]), 'ERR_SIP_REQUEST_URI', true);
  expectFailure(t, sip(['OPTIONS sip:b@h:99999 SIP/2.0', ...base()]), 'ERR_SIP_REQUEST_URI');
  expectFailure(t, sip(['OPTIONS sip:b@h: SIP/2.0', ...base()]), 'ERR_SIP_REQUEST_URI');
  expectFailure(t, sip(['OPTIONS sip:@h SIP/2.0', ...base()]), 'ERR_SIP_REQUEST_URI');
  expectFailure(t, sip(['OPTIONS sip:b@[::1 SIP/2.0', ...base()]), 'ERR_SIP_REQUEST_URI');
  expectFailure(t, sip(['OPTIONS sip: SIP/2.0', ...base()]), 'ERR_SIP_REQUEST_URI');
  expectFailure(t, sip(['OPTIONS nocolon SIP/2.0', ...base()]), 'ERR_SIP_REQUEST_URI');
});

t.test('header names: case, compact forms, unknown names', async (t) => {
  const m = new SipMessage();
  const input = sip([
    'OPTIONS sip:b@h SIP/2.0',
    'v: SIP/2.0/UDP h;branch=z9hG4bK1', 'f: <sip:a@h>;tag=1', 't: sip:b@h', 'i: id1', 'CSEQ: 1 OPTIONS', 'm: <sip:a@h>',
    'k: path', 's: subject', 'c: text/plain', 'e: gzip', 'o: presence', 'r: <sip:c@h>', 'u: talk', 'x: 90',
    'MAX-FORWARDS: 70', 'max-forwards-ext: 1', 'X-Custom: y', 'WWW-AUTHENTICATE: Digest realm="r"', 'l: 4',
  ], 'body');
  t.equal(parse(m, input), null);
  const types: number[] = [];
  for (let i = 0; i < m.headerCount; i++) types.push(m.headerType(i));
  t.strictSame(types, [Hdr.Via, Hdr.From, Hdr.To, Hdr.CallId, Hdr.CSeq, Hdr.Contact, Hdr.Supported, Hdr.Subject,
    Hdr.ContentType, Hdr.ContentEncoding, Hdr.Event, Hdr.ReferTo, Hdr.AllowEvents, Hdr.SessionExpires, Hdr.MaxForwards,
    Hdr.Other, Hdr.Other, Hdr.WwwAuthenticate, Hdr.ContentLength]);
  t.equal(m.headerName(16), 'X-Custom');
  t.equal(m.value(16), 'y');
  t.equal(m.headerValue(Hdr.Subject), 'subject');
  t.equal(m.headerValue(Hdr.Date), null);
  t.equal(m.maxForwards, 70);
  t.equal(m.body().toString(), 'body');
  // Space before the colon is allowed (RFC 3261 §7.3.1); a line without a name or colon is not.
  expectParsed(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base(), 'Max-Forwards  :  9']), { maxForwards: 9 });
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base(), 'NoColonHere']), 'ERR_SIP_BAD_HEADER');
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base(), ': value']), 'ERR_SIP_BAD_HEADER');
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base(), 'Bad Name: value']), 'ERR_SIP_BAD_HEADER');
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', ' folded-first: x', ...base()]), 'ERR_SIP_BAD_HEADER');
});

t.test('folding and multiple values', async (t) => {
  expectParsed(t, sip([
    'OPTIONS sip:b@h SIP/2.0',
    'Via: SIP / 2.0',
    '  / UDP 192.0.2.1',
    '\t;branch=z9hG4bKfold ;rport',
    'From: <sip:a@h>',
    ' ;tag=ft',
    'To: sip:b@h',
    'Call-ID: c',
    'CSeq: 0009',
    '  OPTIONS',
    'Subject: first',
    ' second',
  ]), { viaTransport: 'UDP', viaHost: '192.0.2.1', branch: 'z9hG4bKfold', hasRport: true, rport: -1, fromTag: 'ft', cseq: 9, cseqMethod: 'OPTIONS' });
  // Several Via values in one line and over lines: the top Via is the first value of the first line.
  expectParsed(t, sip([
    'OPTIONS sip:b@h SIP/2.0',
    'Via: SIP/2.0/UDP top.example.com:5062;branch=z9hG4bKtop;received=10.0.0.1 , SIP/2.0/TCP second;branch=z9hG4bK2',
    'Via: SIP/2.0/UDP third;branch=z9hG4bK3',
    ...base().slice(1),
  ]), { viaHost: 'top.example.com', viaPort: 5062, branch: 'z9hG4bKtop', received: '10.0.0.1',
    topVia: 'SIP/2.0/UDP top.example.com:5062;branch=z9hG4bKtop;received=10.0.0.1' });
  // Contacts: several lines and comma lists; commas inside quotes and <> do not separate.
  expectParsed(t, sip([
    'REGISTER sip:h SIP/2.0', ...base('REGISTER'),
    'Contact: "Doe, \\"JD\\" John" <sip:jd@[2001:db8::1]:5070;a=1,2>;expires=60;q=0.5, <sip:x@h?Subject=a,b>',
    'm: sip:y@192.0.2.9;expires=0',
  ]), {
    contactCount: 3,
    contacts: [
      { star: false, uri: 'sip:jd@[2001:db8::1]:5070;a=1,2', user: 'jd', host: '[2001:db8::1]', port: 5070, name: 'Doe, "JD" John',
        expires: 60, q: 500, instance: '', regId: -1, raw: '"Doe, \\"JD\\" John" <sip:jd@[2001:db8::1]:5070;a=1,2>;expires=60;q=0.5',
        params: ';expires=60;q=0.5', uriParams: ';a=1,2' },
      { star: false, uri: 'sip:x@h?Subject=a,b', user: 'x', host: 'h', port: -1, name: '', expires: -1, q: -1, instance: '',
        regId: -1, raw: '<sip:x@h?Subject=a,b>', params: '', uriParams: '' },
      { star: false, uri: 'sip:y@192.0.2.9', user: 'y', host: '192.0.2.9', port: -1, name: '', expires: 0, q: -1, instance: '',
        regId: -1, raw: 'sip:y@192.0.2.9;expires=0', params: ';expires=0', uriParams: '' },
    ],
  });
});

t.test('From, To and Contact parameters', async (t) => {
  const row = (from: string, to: string, expected: Record<string, unknown>): void => {
    expectParsed(t, sip(['OPTIONS sip:b@h SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bKx', `From: ${from}`, `To: ${to}`, 'Call-ID: c', 'CSeq: 1 OPTIONS']), expected);
  };
  row('"Alice \\"A\\" Smith" <sip:alice@example.com>;tag=abc', 'Bob <sip:bob@example.org:5080>;tag=xyz', {
    fromName: 'Alice "A" Smith', fromUser: 'alice', fromTag: 'abc', toName: 'Bob', toUser: 'bob', toHost: 'example.org', toTag: 'xyz',
  });
  row('sip:alice@example.com;tag=t1', 'sip:bob@example.com', { fromName: '', fromUri: 'sip:alice@example.com', fromTag: 't1', toTag: '' });
  // addr-spec: parameters after the URI belong to the header, not the URI (RFC 3261 §20.10).
  row('sip:alice@example.com;user=phone;tag=t2', 'sip:+1555@example.com;user=phone', { fromUri: 'sip:alice@example.com', fromTag: 't2', toUser: '+1555' });
  row('caller<sip:c@h>;tag=1', '"" <sip:b@h>', { fromName: 'caller', toName: '' });
  row('  "Q"<sip:c@h>  ;  TAG  =  spaced  ', '< sip:b@h >', { fromName: 'Q', fromTag: 'spaced', toUri: 'sip:b@h' });
  row('<sip:c@h>;tag=1', '<tel:+15550100>', { toScheme: Scheme.Tel, toUser: '+15550100' });
  row('"Unicode Ünïcødé" <sip:c@h>;tag=1', 'sip:b@h', { fromName: 'Unicode Ünïcødé' });
  const bad = (from: string, to: string, code: 'ERR_SIP_FROM' | 'ERR_SIP_TO'): void => {
    expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bKx', `From: ${from}`, `To: ${to}`, 'Call-ID: c', 'CSeq: 1 OPTIONS']), code, true);
  };
  bad('"unterminated <sip:a@h>', 'sip:b@h', 'ERR_SIP_FROM');
  bad('<sip:a@h;tag=1', 'sip:b@h', 'ERR_SIP_FROM');
  bad('<sip:a@h>;;tag=1', 'sip:b@h', 'ERR_SIP_FROM');
  bad('<sip:a@h>;tag', 'sip:b@h', 'ERR_SIP_FROM');
  bad('<sip:a@h> junk', 'sip:b@h', 'ERR_SIP_FROM');
  bad('<sip:a@h>', '"x" sip:b@h', 'ERR_SIP_TO');
  bad('<sip:a@h>', '', 'ERR_SIP_TO');
  bad('<sip:a@h>', 'sip:b@h?x=y', 'ERR_SIP_TO');

  expectParsed(t, register(), {
    contacts: [{
      star: false, uri: 'sip:1001@192.168.1.20:5060;rinstance=4f6a1f7e;transport=UDP', user: '1001', host: '192.168.1.20', port: 5060,
      name: '', expires: -1, q: -1, instance: '<urn:uuid:00000000-0000-1000-8000-000b82a1c2d3>', regId: 1,
      raw: '<sip:1001@192.168.1.20:5060;rinstance=4f6a1f7e;transport=UDP>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000b82a1c2d3>";reg-id=1',
      params: ';+sip.instance="<urn:uuid:00000000-0000-1000-8000-000b82a1c2d3>";reg-id=1', uriParams: ';rinstance=4f6a1f7e;transport=UDP',
    }],
    expires: 3600, fromName: 'Phone 1001', userAgent: 'Grandstream GXP1625 1.0.11.23', cseq: 2, methodId: Method.REGISTER,
  });
  const m = new SipMessage();
  t.equal(parse(m, register()), null);
  t.equal(m.contact(0).uri.param('transport'), 'UDP');
  t.equal(m.contact(0).uri.param('lr'), null);
  t.equal(m.contact(0).param('reg-id'), '1');
  t.equal(m.from.param('tag'), '8c0a54d1');
  t.ok(m.to.uri.userEquals('1001'));
  t.ok(m.to.uri.hostEquals('SIPREG.example'));
  t.ok(m.from.tagEquals('8c0a54d1'));
  t.ok(m.hasOption(Hdr.Supported, 'OUTBOUND'));
  t.notOk(m.hasOption(Hdr.Supported, 'gruu'));
  t.strictSame(m.options(Hdr.Supported), ['replaces', 'outbound', 'path']);
  t.strictSame(m.options(Hdr.Require), []);

  // Contact: '*' only alone (RFC 3261 §10.2.2); q in 0..1; expires digits, saturated.
  expectParsed(t, sip(['REGISTER sip:h SIP/2.0', ...base('REGISTER'), 'Contact: *', 'Expires: 0']), { contactStar: true, contactCount: 1, expires: 0 });
  const contactRow = (value: string, expected: Record<string, unknown>): void => {
    expectParsed(t, sip(['REGISTER sip:h SIP/2.0', ...base('REGISTER'), `Contact: ${value}`]), expected);
  };
  contactRow('<sip:a@h>;expires=99999999999', { contacts: [{ star: false, uri: 'sip:a@h', user: 'a', host: 'h', port: -1, name: '', expires: 0x7fffffff, q: -1, instance: '', regId: -1, raw: '<sip:a@h>;expires=99999999999', params: ';expires=99999999999', uriParams: '' }] });
  contactRow('<sip:a@h>;q=1.0;Expires=7;+SIP.INSTANCE="<urn:x>";Reg-Id=2', { contacts: [{ star: false, uri: 'sip:a@h', user: 'a', host: 'h', port: -1, name: '', expires: 7, q: 1000, instance: '<urn:x>', regId: 2, raw: '<sip:a@h>;q=1.0;Expires=7;+SIP.INSTANCE="<urn:x>";Reg-Id=2', params: ';q=1.0;Expires=7;+SIP.INSTANCE="<urn:x>";Reg-Id=2', uriParams: '' }] });
  const badContact = (value: string): void => {
    expectFailure(t, sip(['REGISTER sip:h SIP/2.0', ...base('REGISTER'), `Contact: ${value}`]), 'ERR_SIP_CONTACT', true);
  };
  badContact('*, <sip:a@h>');
  badContact('<sip:a@h>, *');
  badContact('*;expires=0');
  badContact('<sip:a@h>;q=1.5');
  badContact('<sip:a@h>;q=abc');
  badContact('<sip:a@h>;expires=ten');
  badContact('<sip:a@h>;expires=-1');
  badContact('<sip:a@h>,,<sip:b@h>');
  badContact('<sip:a@h>,');
  badContact('');
  badContact('sip:user@example.com?Route=%3Csip:sip.example.com%3E'); // RFC 4475 §3.1.2.13
  const many = Array.from({ length: limits.contactsPerRequestMax + 1 }, (_, i) => `<sip:c${i}@h>`).join(', ');
  expectFailure(t, sip(['REGISTER sip:h SIP/2.0', ...base('REGISTER'), `Contact: ${many}`]), 'ERR_SIP_CONTACTS_MAX', true);
});

t.test('Via: transport, sent-by, IPv6, rport, received', async (t) => {
  const row = (via: string, expected: Record<string, unknown>): void => {
    expectParsed(t, sip(['OPTIONS sip:b@h SIP/2.0', `Via: ${via}`, ...base().slice(1)]), expected);
  };
  row('SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKv6;rport=5062;received=[2001:db8::9:255]', {
    viaHost: '[2001:db8::9:1]', viaPort: 6050, hasRport: true, rport: 5062, received: '[2001:db8::9:255]', rfc3261: true,
  });
  row('SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3', { received: '2001:db8::9:255', branch: 'z9hG4bKas3' });
  row('sip/2.0/tcp host ; branch = z9hG4bK1 ; rport', { viaTransport: 'tcp', viaHost: 'host', viaPort: -1, hasRport: true, rport: -1 });
  row('SIP/2.0/UDP h:5060', { branch: '', rfc3261: false, hasRport: false, rport: -1 });
  row('SIP/2.0/UDP h;branch=z9hG4bK', { rfc3261: false }); // RFC 4475 §3.2.1: cookie alone is not a 3261 branch
  const bad = (via: string): void => {
    expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', `Via: ${via}`, ...base().slice(1)]), 'ERR_SIP_VIA', false);
  };
  bad('SIP/2.0/UDP 192.0.2.15;;,;,,'); // RFC 4475 §3.1.2.1
  bad('SIP/2.0 h');
  bad('HTTP/2.0/UDP h');
  bad('SIP/2.0/UDP');
  bad('SIP/2.0/UDP h:port');
  bad('SIP/2.0/UDP h:70000');
  bad('SIP/2.0/UDP [::1');
  bad('SIP/2.0/UDP h;rport=x');
  bad('SIP/2.0/UDP h;branch');
  bad('SIP/2.0/UDP h junk');
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base().slice(1)]), 'ERR_SIP_MISSING_HEADER', false);
});

t.test('framing: Content-Length against the body (RFC 3261 §18.3)', async (t) => {
  const row = (cl: string | null, body: string): Buffer => sip(['MESSAGE sip:b@h SIP/2.0', ...base('MESSAGE'), ...(cl === null ? [] : [`Content-Length: ${cl}`])], body);
  expectParsed(t, row('5', 'hello'), { contentLength: 5, body: 'hello' });
  expectParsed(t, row('5', 'hello, trailing noise'), { contentLength: 5, body: 'hello' }); // truncated over UDP
  expectParsed(t, row(null, 'all of it'), { contentLength: -1, body: 'all of it' });
  expectParsed(t, row('0', ''), { contentLength: 0, body: '' });
  expectParsed(t, sip(['MESSAGE sip:b@h SIP/2.0', ...base('MESSAGE'), 'l: 2', 'Content-Length: 2'], 'ok'), { body: 'ok' });
  expectFailure(t, row('6', 'hello'), 'ERR_SIP_CONTENT_LENGTH', true);
  expectFailure(t, row('-1', 'hello'), 'ERR_SIP_CONTENT_LENGTH', true);
  expectFailure(t, row('5x', 'hello'), 'ERR_SIP_CONTENT_LENGTH', true);
  expectFailure(t, row('', 'hello'), 'ERR_SIP_CONTENT_LENGTH', true);
  expectFailure(t, row('99999999999999999999', 'hello'), 'ERR_SIP_CONTENT_LENGTH', true);
  expectFailure(t, sip(['MESSAGE sip:b@h SIP/2.0', ...base('MESSAGE'), 'l: 2', 'Content-Length: 3'], 'abc'), 'ERR_SIP_CONTENT_LENGTH', true);
});

t.test('mandatory and single-valued headers, CSeq, numbers', async (t) => {
  const all = ['OPTIONS sip:b@h SIP/2.0', ...base()];
  for (let drop = 1; drop < all.length; drop++) {
    expectFailure(t, sip(all.filter((_, i) => i !== drop)), 'ERR_SIP_MISSING_HEADER', drop !== 1); // 1 is the Via
  }
  expectFailure(t, sip([...all, 'To: <sip:other@h>']), 'ERR_SIP_DUPLICATE_HEADER', true);
  expectFailure(t, sip([...all, 'i: other']), 'ERR_SIP_DUPLICATE_HEADER', true);
  expectFailure(t, sip([...all, 'Max-Forwards: 1', 'Max-Forwards: 2']), 'ERR_SIP_DUPLICATE_HEADER', true);
  const cseq = (value: string): Buffer => sip(['OPTIONS sip:b@h SIP/2.0', ...base().slice(0, 4), `CSeq: ${value}`]);
  expectParsed(t, cseq('4294967295 OPTIONS'), { cseq: 4294967295, cseqMethodId: Method.OPTIONS });
  expectParsed(t, cseq('0 OPTIONS'), { cseq: 0 });
  expectFailure(t, cseq('4294967296 OPTIONS'), 'ERR_SIP_CSEQ', true);
  expectFailure(t, cseq('36893488147419103232 OPTIONS'), 'ERR_SIP_CSEQ', true);
  expectFailure(t, cseq('1 INVITE'), 'ERR_SIP_CSEQ', true); // RFC 4475 §3.1.2.17
  expectFailure(t, cseq('1 options'), 'ERR_SIP_CSEQ', true); // methods are case-sensitive
  expectFailure(t, cseq('1OPTIONS'), 'ERR_SIP_CSEQ', true);
  expectFailure(t, cseq('OPTIONS'), 'ERR_SIP_CSEQ', true);
  expectFailure(t, cseq('-1 OPTIONS'), 'ERR_SIP_CSEQ', true);
  expectFailure(t, cseq('1 OPTIONS extra'), 'ERR_SIP_CSEQ', true);
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base().slice(0, 3), 'Call-ID: has space', base()[4]!]), 'ERR_SIP_CALL_ID', true);
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base().slice(0, 3), 'Call-ID:', base()[4]!]), 'ERR_SIP_CALL_ID', true);
  const num = (line: string): Buffer => sip([...all, line]);
  expectParsed(t, num('Max-Forwards: 0'), { maxForwards: 0 });
  expectParsed(t, num('Max-Forwards: 0068'), { maxForwards: 68 });
  expectFailure(t, num('Max-Forwards: 256'), 'ERR_SIP_MAX_FORWARDS', true);
  expectFailure(t, num('Max-Forwards: x'), 'ERR_SIP_MAX_FORWARDS', true);
  expectParsed(t, num('Expires: 10000000000000000000000000000000000000000'), { expires: 4294967295 }); // saturated
  expectFailure(t, num('Expires: 3600s'), 'ERR_SIP_EXPIRES', true);
  expectFailure(t, num('Min-Expires: '), 'ERR_SIP_EXPIRES', true);
  expectParsed(t, num('Min-Expires: 60'), { minExpires: 60 });
  expectParsed(t, num('Retry-After: 18000;duration=3600'), { retryAfter: 18000 });
  expectParsed(t, num('Retry-After: 120 (I\'m in a meeting)'), { retryAfter: 120 });
  expectParsed(t, num('Retry-After: soon'), { retryAfter: -1 });
  expectParsed(t, num('Date: Sat, 13 Nov 2010 23:29:00 GMT'), { date: 'Sat, 13 Nov 2010 23:29:00 GMT' });
});

t.test('limits: header count and length', async (t) => {
  const filler = Array.from({ length: limits.headerCountMax - 5 }, (_, i) => `X-F${i}: ${i}`);
  expectParsed(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base(), ...filler]), { headerCount: limits.headerCountMax });
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base(), ...filler, 'X-One-Too-Many: 1']), 'ERR_SIP_HEADERS_MAX');
  const long = 'X-Long: ' + 'a'.repeat(limits.headerLengthMax);
  expectFailure(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base(), long]), 'ERR_SIP_HEADER_TOO_LONG');
  const justFits = 'X-Long: ' + 'a'.repeat(limits.headerLengthMax - 8);
  expectParsed(t, sip(['OPTIONS sip:b@h SIP/2.0', ...base(), justFits]), { method: 'OPTIONS' });
});

t.test('responses for the trunk client and keepalives', async (t) => {
  const m = expectParsed(t, sip([
    'SIP/2.0 401 Unauthorized',
    'Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bKout1;rport=40312;received=198.51.100.7',
    'From: <sip:4420000000@carrier.example>;tag=ours',
    'To: <sip:4420000000@carrier.example>;tag=theirs',
    'Call-ID: trunk-call-1@10.0.0.5',
    'CSeq: 12 REGISTER',
    'WWW-Authenticate: Digest realm="carrier", nonce="n1", algorithm=MD5, qop="auth"',
    'WWW-Authenticate: Digest realm="carrier", nonce="n2", algorithm=SHA-256, qop="auth"',
    'Server: CarrierSBC/2.1',
    'Content-Length: 0',
  ]), { status: 401, reason: 'Unauthorized', rport: 40312, received: '198.51.100.7', cseq: 12, cseqMethodId: Method.REGISTER, toTag: 'theirs', server: 'CarrierSBC/2.1' }, new SipMessage());
  const first = m.nextHeader(Hdr.WwwAuthenticate, -1);
  const second = m.nextHeader(Hdr.WwwAuthenticate, first);
  t.equal(m.value(second), 'Digest realm="carrier", nonce="n2", algorithm=SHA-256, qop="auth"');
  t.equal(m.nextHeader(Hdr.WwwAuthenticate, second), -1);
  expectParsed(t, sip([
    'SIP/2.0 200 OK', ...base('REGISTER').slice(0, 4), 'CSeq: 13 REGISTER',
    'Contact: <sip:4420000000@198.51.100.7:40312>;expires=120, <sip:other@192.0.2.4>;expires=3000',
    'Expires: 120',
  ]), { status: 200, expires: 120, contactCount: 2 });
  expectParsed(t, sip(['SIP/2.0 423 Interval Too Brief', ...base('REGISTER'), 'Min-Expires: 600']), { status: 423, minExpires: 600 });
  expectParsed(t, sip(['SIP/2.0 503 Service Unavailable', ...base('REGISTER'), 'Retry-After: 300']), { status: 503, retryAfter: 300 });
  expectParsed(t, sip(['SIP/2.0 200 OK', ...base('OPTIONS')]), { status: 200, cseqMethodId: Method.OPTIONS });
  // A response's CSeq method need not match anything on the status line.
  expectParsed(t, sip(['SIP/2.0 405 Method Not Allowed', ...base('INVITE')]), { cseqMethod: 'INVITE' });
});

t.test('reuse: a second parse leaves nothing of the first', async (t) => {
  const m = new SipMessage();
  t.equal(parse(m, register({ extra: ['Min-Expires: 30', 'Require: path'] })), null);
  t.equal(m.minExpires, 30);
  t.equal(parse(m, sip(['OPTIONS sip:b@h SIP/2.0', ...base()])), null);
  const s = summary(m);
  t.equal(s['minExpires'], -1);
  t.equal(s['expires'], -1);
  t.equal(s['contactCount'], 0);
  t.equal(s['userAgent'], null);
  t.notOk(m.hasOption(Hdr.Require, 'path'));
  t.equal(parse(m, Buffer.from('garbage')), 'ERR_SIP_NO_CRLF');
  t.equal(m.contactCount, 0);
  t.notOk(m.canRespond());
  // A length shorter than the buffer parses only that prefix (a pooled receive buffer).
  const padded = Buffer.concat([register(), Buffer.from('XXXXXXXX')]);
  t.equal(parse(m, padded, padded.length - 8), null);
  t.equal(m.body().length, 0);
});

t.test('every failure has a response', async (t) => {
  for (const code of parseFailures) {
    const r = failureResponse(code);
    t.ok(r.status >= 400 && r.status <= 599 && r.reason.length > 0, code);
  }
});
