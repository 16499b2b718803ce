// Issue 13, item 10, through `sipreg run` and the real binary: phones register over UDP with hostile
// User-Agent, Contact, +sip.instance and Call-ID values, an unknown caller fails with a hostile number,
// and an upstream answers the trunk's REGISTER with a hostile reason phrase. What reaches the operator:
// `sipreg show`, `list`, `list --csv`, `events`, `trunks`, and the console's Details screen, device-types
// chart, event log and trunks screen in an 80x24 tmux window, must hold no control or bidi character
// (they show as visible escapes), CSV cells must not start a formula, and JSON must keep the exact values.
import t, { type Test } from 'tap';
import dgram from 'node:dgram';
import { freeUdpPort } from '../helpers/sipreg.js';
import { SipClient, answerChallenge, type RegisterOptions, type Response } from '../registrar/sipclient.js';
import { TmuxConsole } from '../console/fixtures/tmux.js';
import { accountsYaml, startService, type Service } from './service.js';

/** Sets the terminal's title (OSC 0), rings, and clears the screen: what a scanner's User-Agent can carry. */
const ESCAPES = '\x1b]0;pwned\x07\x1b[2J';
const ESCAPES_SHOWN = '\\x1b]0;pwned\\x07\\x1b[2J';
/** Right-to-left override: the rest of the line reads backwards. */
const RLO = '\u202e';
/** C1 CSI as one character (UTF-8 C2 9B), which some terminals obey like ESC [. */
const CSI = '\u009b';

const UA_1001 = `Yealink${ESCAPES}${RLO}T46S ${CSI}31m`;
const UA_1001_SHOWN = `Yealink${ESCAPES_SHOWN}\\u202eT46S \\x9b31m`;
const UA_1002 = '=HYPERLINK("http://x","click")';
const UA_1003 = '@SUM(1,2)';
const CALL_ID_1002 = '-2+3@evil';
const INSTANCE_1001 = `"<urn:uuid:${RLO}${ESCAPES}>"`;
const INTRUDER = `9${RLO}${ESCAPES}`;
const REASON = `Forbidden${ESCAPES}${RLO}gnp.exe`;

/** Every character no output may hold raw (the line feeds that end lines aside). */
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** Names a raw character found, for the assertion message. */
function firstRaw(text: string): string {
  const m = RAW.exec(text);
  return m === null ? 'none' : `U+${m[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${m.index}: ${JSON.stringify(text.slice(Math.max(0, m.index - 30), m.index + 30))}`;
}
function clean(t: Test, text: string, what: string): void {
  t.equal(firstRaw(text), 'none', `${what}: no control or bidi character reaches the terminal`);
}

/** An upstream registrar that refuses every REGISTER with 403 and a hostile reason phrase. */
async function hostileUpstream(): Promise<{ port: number; close(): void; seen(): number }> {
  const socket = dgram.createSocket('udp4');
  let seen = 0;
  socket.on('message', (buf, rinfo) => {
    const lines = buf.toString('utf8').split('\r\n');
    if (!lines[0]!.startsWith('REGISTER ')) return;
    seen++;
    const copied = lines.filter((l) => /^(via|from|call-id|cseq|v|f|i):/i.test(l));
    const to = lines.find((l) => /^(to|t):/i.test(l)) ?? '';
    const answer = [`SIP/2.0 403 ${REASON}`, ...copied, `${to};tag=up1`, 'Content-Length: 0', '', ''].join('\r\n');
    socket.send(Buffer.from(answer, 'utf8'), rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { port: socket.address().port, close: () => socket.close(), seen: () => seen };
}

let svc: Service;
let phone: SipClient;
let upstream: Awaited<ReturnType<typeof hostileUpstream>>;
const term = new TmuxConsole('security-display');

/** REGISTER → 401 → REGISTER with credentials, with our own User-Agent (SipClient sends a fixed one). */
async function register(o: RegisterOptions & { password: string; userAgent: string }): Promise<Response> {
  const send = (authorization?: string): Promise<Response> => {
    const { text, branch } = phone.registerText({ ...o, ...(authorization === undefined ? {} : { authorization }) });
    return phone.request(text.replace('User-Agent: sipreg-test\r\n', `User-Agent: ${o.userAgent}\r\n`), branch);
  };
  const first = await send();
  if (first.status !== 401) return first;
  return send(answerChallenge(first, o.user, o.password, `sip:${o.domain ?? '127.0.0.1'}`));
}

t.before(async () => {
  upstream = await hostileUpstream();
  svc = await startService([
    'params:',
    '  SS_ENDPOINT_EXPIRE_JITTER: 0',
    '  SS_STORE_FLUSH_INTERVAL: 1',   // a change's history row joins the next flush (issue 14)
    accountsYaml(['1001', '1002', '1003']).trimEnd(),
    'trunks:',
    `  - { name: carrier-x, registrar: "127.0.0.1", port: ${upstream.port}, username: "4420", password: "p", expire: 60 }`,
    '',
  ].join('\n'), { port: await freeUdpPort() });
  phone = await SipClient.open(svc.port, '127.0.0.1');
  const p = phone.port;
  const ok = await Promise.all([
    register({ user: '1001', password: 'secret', expires: 600, userAgent: UA_1001,
      contacts: [`<sip:1001@127.0.0.1:${p};x=${ESCAPES}>;+sip.instance=${INSTANCE_1001}`] }),
    register({ user: '1002', password: 'secret', expires: 600, userAgent: UA_1002, callId: CALL_ID_1002,
      contacts: [`<sip:1002@127.0.0.1:${p}>`] }),
    register({ user: '1003', password: 'secret', expires: 600, userAgent: UA_1003,
      contacts: [`<sip:1003@127.0.0.1:5060;x=a@ev${RLO}il${ESCAPES}>`] }),
  ]);
  for (const r of ok) if (r.status !== 200) throw new Error(`a hostile phone was not registered: ${r.status} ${r.reason}`);
  // A stranger with a hostile number and a wrong password: the failure is logged under that number.
  const failed = await register({ user: INTRUDER, password: 'guess', expires: 600, userAgent: UA_1001 });
  if (failed.status < 400) throw new Error(`the intruder got ${failed.status}`);
  const deadline = Date.now() + 15_000;
  while (!svc.cli(['events', '--json', '--number', '1001']).stdout.includes('"registered"')) {
    if (Date.now() > deadline) throw new Error('the registrations\' history rows were not written');
    await new Promise((r) => setTimeout(r, 200));
  }
  while (!svc.cli(['trunks', '--json']).stdout.includes('"last_status": 403')) {
    if (Date.now() > deadline) throw new Error(`the trunk never saw the upstream's 403 (upstream saw ${upstream.seen()} REGISTERs)`);
    await new Promise((r) => setTimeout(r, 200));
  }
});
t.teardown(async () => {
  term.close();
  phone?.close();
  await svc?.kill('SIGTERM');
  upstream?.close();
});

function cli(t: Test, args: string[]): string {
  const r = svc.cli(args);
  t.equal(r.status, 0, `sipreg ${args.join(' ')} exits 0: ${r.stderr}`);
  clean(t, r.stdout, `sipreg ${args.join(' ')}`);
  clean(t, r.stderr, `sipreg ${args.join(' ')} (stderr)`);
  return r.stdout;
}

interface BindingRow { number: string; contact: string; user_agent: string; instance: string | null; call_id: string }

t.test('JSON keeps the exact values, with every unsafe character escaped in the bytes', async (t) => {
  const rows = JSON.parse(cli(t, ['list', '--json'])) as BindingRow[];
  const b = (n: string): BindingRow => rows.find((x) => x.number === n)!;
  t.equal(b('1001').user_agent, UA_1001, 'User-Agent exactly as sent');
  t.equal(b('1001').contact, `sip:1001@127.0.0.1:${phone.port};x=${ESCAPES}`, 'Contact exactly as sent');
  t.equal(b('1001').instance, `<urn:uuid:${RLO}${ESCAPES}>`, '+sip.instance exactly as sent');
  t.equal(b('1002').call_id, CALL_ID_1002);
  t.equal(b('1003').contact, `sip:1003@127.0.0.1:5060;x=a@ev${RLO}il${ESCAPES}`);
  const shown = JSON.parse(cli(t, ['show', '1001', '--json'])) as BindingRow[];
  t.equal(shown[0]!.user_agent, UA_1001, 'show --json: the same');
  const events = JSON.parse(cli(t, ['events', '--json'])) as { number: string; user_agent: string; detail: string }[];
  t.ok(events.some((e) => e.number === '1001' && e.user_agent === UA_1001), 'events --json: the User-Agent exactly');
  t.ok(events.some((e) => e.number === INTRUDER), 'events --json: the intruder\'s number exactly');
  const trunks = JSON.parse(cli(t, ['trunks', '--json'])) as { name: string; last_status: number; last_reason: string }[];
  t.match(trunks[0]!.last_reason, REASON, 'trunks --json: the upstream\'s reason phrase exactly');
  cli(t, ['stats', '--json']);
  cli(t, ['lockouts', '--json']);
});

t.test('sipreg show: every hostile value visible as escapes, nothing hidden', async (t) => {
  const out = cli(t, ['show', '1001']);
  t.match(out, `User-Agent      ${UA_1001_SHOWN}\n`);
  t.match(out, `Contact         sip:1001@127.0.0.1:${phone.port};x=${ESCAPES_SHOWN}\n`);
  t.match(out, `Instance        <urn:uuid:\\u202e${ESCAPES_SHOWN}>\n`);
  t.match(out, /^Number +1001\n/, 'the screen before the values is still there');
  t.same(out.split('\n').filter((l) => l.length > 80), [], 'within 80 columns');
  t.match(cli(t, ['show', '1003']), `Contact         sip:1003@127.0.0.1:5060;x=a@ev\\u202eil${ESCAPES_SHOWN}\n`);
});

t.test('sipreg list: the table shows each contact\'s real host, not one a parameter names', async (t) => {
  const out = cli(t, ['list']);
  t.match(out, /\n1003 +127\.0\.0\.1:5060 /, 'the contact host of 1003, not the `@` in its parameter');
  t.match(out, /3 bindings\n$/);
});

/** RFC 4180 records: fields split on commas outside quotes, "" inside quotes is one quote. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; } else if (c === '"') quoted = false; else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') { row.push(field); field = ''; } else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; } else field += c;
  }
  if (field !== '' || row.length > 0) { row.push(field); rows.push(row); }
  return rows;
}

t.test('sipreg list --csv: no formula starts a cell, quoting per RFC 4180, no control character', async (t) => {
  const out = cli(t, ['list', '--csv']);
  const [header, ...rows] = parseCsv(out);
  t.equal(rows.length, 3, 'one record per binding: no value breaks a line');
  for (const r of rows) t.equal(r.length, header!.length, `${r[0]}: as many fields as the header`);
  const cell = (n: string, f: string): string => rows.find((r) => r[0] === n)![header!.indexOf(f)]!;
  t.equal(cell('1002', 'user_agent'), `'${UA_1002}`, '=HYPERLINK( is text');
  t.equal(cell('1002', 'call_id'), `'${CALL_ID_1002}`, 'a Call-ID starting with - is text');
  t.equal(cell('1003', 'user_agent'), `'${UA_1003}`, '@SUM( is text');
  t.equal(cell('1001', 'user_agent'), UA_1001_SHOWN, 'escape sequences visible');
  t.equal(cell('1001', 'instance'), `<urn:uuid:\\u202e${ESCAPES_SHOWN}>`);
  for (const r of rows) for (const c of r) t.notMatch(c, /^[=+\-@\t\r]/, `cell ${JSON.stringify(c)} starts no formula`);
  t.match(out, `"'=HYPERLINK(""http://x"",""click"")"`, 'quotes doubled inside a quoted field');
});

t.test('sipreg events and sipreg trunks: peer text in details, numbers and reasons escaped', async (t) => {
  const events = cli(t, ['events']);
  t.match(events, `UA: ${UA_1001_SHOWN.slice(0, 20)}`, 'the User-Agent of 1001, escaped');
  t.match(events, `x=${ESCAPES_SHOWN}`, 'the Contact in the registered event, escaped');
  t.match(events, '9\\u202e\\x1b]0;pwned', 'the intruder\'s number, escaped');
  t.same(events.split('\n').filter((l) => l.length > 80), [], 'within 80 columns');
  t.match(cli(t, ['trunks']), /carrier-x +failed|carrier-x +retry_wait/);
  t.match(cli(t, ['trunks']), /carrier-x +\S+ +forbidden \(403\) /, 'the table: the reason\'s words, the status');
  t.match(cli(t, ['trunks', 'carrier-x']), '403 Forbidden\\x1b', 'trunks NAME: the upstream\'s reason in full, escaped');
  t.match(cli(t, ['events', '--type', 'trunk_failed']), `Forbidden${ESCAPES_SHOWN}\\u202egnp.exe`);
});

t.test('the console over tmux: Details, device types, event log and trunks show escapes; the terminal obeys none', async (t) => {
  term.start(svc.configFile, svc.dataDir);
  let s = await term.waitFor(/Choice:/);
  const title = term.title();
  t.not(title, 'pwned');
  const check = (s: string, what: string): void => {
    clean(t, s, what);
    t.same(s.split('\n').filter((l) => l.length > 80), [], `${what}: within 80 columns`);
    t.equal(term.title(), title, `${what}: the terminal's title is unchanged`);
  };

  term.type('1');
  await term.waitFor(/== Registrations ==/);
  term.type('6');
  await term.waitFor(/Details of number/);
  term.type('1001');
  s = await term.waitFor(/== Details: 1001 ==[\s\S]*NAT keepalive/);
  check(s, 'Details');
  t.match(s, /\nNumber +1001\n/, 'the lines above the User-Agent were not cleared');
  t.match(s, `User-Agent      ${UA_1001_SHOWN}`);
  t.match(s, `Contact         sip:1001@127.0.0.1:${phone.port};x=${ESCAPES_SHOWN}`);
  t.match(s, `Instance        <urn:uuid:\\u202e${ESCAPES_SHOWN}>`);
  term.type('0');
  await term.waitFor(/== Registrations ==/);
  s = term.screen();
  check(s, 'Registrations');
  t.match(s, /\n1003 +127\.0\.0\.1:5060 /);
  term.type('0');
  await term.waitFor(/== sipreg console ==/);

  term.type('5');
  await term.waitFor(/== Analysis ==/);
  term.type('5');
  s = await term.waitFor(/== Device types/);
  check(s, 'Device types');
  t.match(s, /\nYealink\\x1b\]0;pwned\\x07\S* +1 #+\n/, 'the hostile model, escaped, with its bar');
  t.match(s, /\n=HYPERLINK +1 #+\n/, 'a formula is harmless on a terminal');
  term.type('0');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);

  term.type('9');
  s = await term.waitFor(/== Event log/);
  check(s, 'Event log');
  t.match(s, ESCAPES_SHOWN.slice(0, 12));
  term.type('0');
  await term.waitFor(/== sipreg console ==/);

  term.type('7');
  s = await term.waitFor(/== Trunks ==/);
  check(s, 'Trunks');
  t.match(s, /carrier-x .*forbidden \(403\)/);
  term.type('2');
  await term.waitFor(/Trunk # or name/);
  term.type('carrier-x');
  s = await term.waitFor(/== Trunk: carrier-x ==[\s\S]*Choice:/);
  check(s, 'Trunk details');
  t.match(s, /Last reason +forbidden: 403 Forbidden\\x1b/, 'the upstream\'s reason in full, escaped');
  term.type('0');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);
  term.type('q');
  s = await term.waitFor(/EXIT=\d+/);
  t.match(s, /EXIT=0/);
  t.equal(term.title(), title, 'the title never changed');
  term.killSession();
});
