#!/usr/bin/env node
// The phones, the clock probe and the checks of image/test-powercut.sh (issue 14 "Power cut"), on Node's
// own modules only. Times are the host's wall clock in ms; the guest's clock is measured against it.
//
//   phone --target H:P --accounts N:PW,... --state FILE --journal FILE --phase K --max-bindings M
//         [--mix mixed|refresh-only]
//       One UDP socket per contact (its reach address), one request in flight per account: registers new
//       contacts, refreshes them (digest with the next nonce-count of the cached nonce, as phones do; a 401
//       is answered) and unregisters some (refresh-only: only refreshes once a number has a contact), until
//       SIGUSR1 (no new request) and SIGTERM (exit). Every request and every final answer is appended to
//       the journal (JSON lines, written synchronously) the moment it happens; the held contacts and the
//       unanswered request go to FILE.phone at exit. Keepalive OPTIONS from the registrar are answered 200.
//   clock --target H:P --account N:PW --out FILE
//       One new binding for the clock account (a change: committed before its 200), with the host's times
//       around it. With its registered_at from `sipreg list --json`: the guest clock's offset.
//   offset --clock FILE --list FILE --boot K --boot-start-ms T
//       Prints the offset line {boot, bootStartMs, offsetMs, uncertaintyMs} of one probe (for offsets.jsonl):
//       the guest reads its clock from the RTC at each boot (whole seconds), so each boot has its own offset.
//   query --target H:P --accounts N:PW,... --out FILE
//       REGISTER without Contact per account: the bindings and expires the running service reports now.
//   check --phase K --journal FILE --state FILE --list FILE --queries FILE --offsets FILE --max-bindings M
//       Compares what the phones were told with what the store holds after the cut (see checkAccount);
//       prints one line per account and a JSON summary line, rewrites the state file for the next phase,
//       exits 1 on any violation.
import dgram from 'node:dgram';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';

const md5 = (s) => createHash('md5').update(s).digest('hex');
const hex = (n) => randomBytes(n).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function args(argv) {
  const out = { _: argv[0] };
  for (let i = 1; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}
function target(spec) {
  const i = spec.lastIndexOf(':');
  return { host: spec.slice(0, i), port: Number(spec.slice(i + 1)) };
}
function accountList(spec) {
  return spec.split(',').filter(Boolean).map((a) => { const [number, password] = a.split(':'); return { number, password }; });
}
function fail(message) {
  process.stderr.write(`powercut: ${message}\n`);
  process.exit(2);
}

// ---- SIP -----------------------------------------------------------------------------------------------

function parseMessage(text) {
  const lines = text.split('\r\n');
  const headers = [];
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const c = line.indexOf(':');
    if (c > 0) headers.push([line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim()]);
  }
  const status = /^SIP\/2\.0 (\d{3})/.exec(lines[0]);
  return {
    first: lines[0], status: status ? Number(status[1]) : 0, isRequest: status === null,
    all: (n, compact) => headers.filter(([k]) => k === n || k === compact).map(([, v]) => v),
    get(n, compact) { return this.all(n, compact)[0]; },
  };
}

/** The Contact values of a response, split at commas outside <>, as [{ uri, expires }]. */
function contactsOf(msg) {
  const out = [];
  for (const value of msg.all('contact', 'm')) {
    let depth = 0; let start = 0;
    const parts = [];
    for (let i = 0; i < value.length; i++) {
      if (value[i] === '<') depth++;
      else if (value[i] === '>') depth--;
      else if (value[i] === ',' && depth === 0) { parts.push(value.slice(start, i)); start = i + 1; }
    }
    parts.push(value.slice(start));
    for (const p of parts) {
      const uri = /<([^>]*)>/.exec(p)?.[1] ?? p.split(';')[0].trim();
      const expires = /;\s*expires=(\d+)/i.exec(p);
      out.push({ uri, expires: expires ? Number(expires[1]) : null });
    }
  }
  return out;
}

function authorization(challenge, user, password, uri, nc) {
  const param = (k) => (challenge.match(new RegExp(`${k}="?([^",]*)"?`, 'i')) ?? [])[1];
  const realm = param('realm');
  const nonce = param('nonce');
  const opaque = param('opaque');
  const ha1 = md5(`${user}:${realm}:${password}`);
  const ha2 = md5(`REGISTER:${uri}`);
  const ncText = nc.toString(16).padStart(8, '0');
  const cnonce = hex(6);
  let value = `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", algorithm=MD5, ` +
    `qop=auth, nc=${ncText}, cnonce="${cnonce}", response="${md5(`${ha1}:${nonce}:${ncText}:${cnonce}:auth:${ha2}`)}"`;
  if (opaque) value += `, opaque="${opaque}"`;
  return value;
}

/** A contact's socket: sends requests with retransmissions (500 ms doubling, as RFC 3261 Timer A), answers OPTIONS. */
class Line {
  static async open(port = 0) {
    const l = new Line();
    await new Promise((resolve, reject) => {
      l.sock.once('error', reject);
      l.sock.bind(port, '127.0.0.1', () => { l.sock.off('error', reject); resolve(); });
    });
    l.port = l.sock.address().port;
    return l;
  }
  constructor() {
    this.sock = dgram.createSocket('udp4');
    this.waiting = new Map();
    this.sock.on('message', (buf, rinfo) => {
      const text = buf.toString('utf8');
      const msg = parseMessage(text);
      if (msg.isRequest) { this.answer(msg, rinfo); return; }
      if (msg.status < 200) return;
      const branch = /branch=([^;,\s]+)/.exec(msg.get('via', 'v') ?? '')?.[1];
      const w = this.waiting.get(branch);
      if (w) { this.waiting.delete(branch); w(msg); }
    });
  }
  answer(msg, rinfo) {
    const lines = ['SIP/2.0 200 OK'];
    for (const v of msg.all('via', 'v')) lines.push(`Via: ${v}`);
    lines.push(`From: ${msg.get('from', 'f')}`, `To: ${msg.get('to', 't')}${/;tag=/.test(msg.get('to', 't') ?? '') ? '' : `;tag=${hex(4)}`}`,
      `Call-ID: ${msg.get('call-id', 'i')}`, `CSeq: ${msg.get('cseq')}`, 'Content-Length: 0', '', '');
    this.sock.send(Buffer.from(lines.join('\r\n')), rinfo.port, rinfo.address);
  }
  /** Resolves with the final response, or null after `timeoutMs`. `onSent` runs at the first transmission. */
  request(text, branch, to, timeoutMs) {
    return new Promise((resolve) => {
      const buf = Buffer.from(text);
      let interval = 500;
      let timer;
      const deadline = setTimeout(() => { clearTimeout(timer); this.waiting.delete(branch); resolve(null); }, timeoutMs);
      const again = () => { this.sock.send(buf, to.port, to.host); timer = setTimeout(again, interval); interval = Math.min(interval * 2, 4000); };
      this.waiting.set(branch, (msg) => { clearTimeout(timer); clearTimeout(deadline); resolve(msg); });
      again();
    });
  }
  close() { try { this.sock.close(); } catch { /* closed */ } }
}

function registerText(to, line, user, { callId, cseq, contact, expires, auth }) {
  const domain = `${to.host}:${to.port}`;
  const branch = `z9hG4bK${hex(8)}`;
  const lines = [
    `REGISTER sip:${domain} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${line.port};branch=${branch};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@${domain}>;tag=${hex(4)}`,
    `To: <sip:${user}@${domain}>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} REGISTER`,
  ];
  if (contact) lines.push(`Contact: <${contact}>`, `Expires: ${expires}`);
  if (auth) lines.push(`Authorization: ${auth}`);
  lines.push('User-Agent: sipreg-powercut', 'Content-Length: 0', '', '');
  return { text: lines.join('\r\n'), branch };
}

/**
 * One REGISTER with digest: the cached nonce with its next nonce-count first (as phones do), a fresh
 * challenge answered when that gets a 401. Returns { response, sentMs } (sentMs: first transmission of
 * the attempt that got the final answer) or { response: null } on timeout.
 */
async function register(to, line, account, reg, timeoutMs) {
  const uri = `sip:${to.host}:${to.port}`;
  for (let attempt = 0; attempt < 3; attempt++) {
    const auth = account.challenge ? authorization(account.challenge, account.number, account.password, uri, ++account.nc) : undefined;
    const { text, branch } = registerText(to, line, account.number, { ...reg, cseq: reg.cseq(), auth });
    const sentMs = Date.now();
    const response = await line.request(text, branch, to, timeoutMs);
    if (response === null) return { response: null, sentMs };
    if (response.status === 401) {
      account.challenge = response.get('www-authenticate');
      account.nc = 0;
      if (!account.challenge) return { response, sentMs };
      continue;
    }
    return { response, sentMs };
  }
  return { response: null, sentMs: Date.now() };
}

// ---- phone ---------------------------------------------------------------------------------------------

async function phone(o) {
  const to = target(o.target);
  const phase = Number(o.phase);
  const maxBindings = Number(o['max-bindings']);
  const mixed = (o.mix ?? 'mixed') === 'mixed';   // 'refresh-only': only refreshes once each number has a contact
  const state = existsSync(o.state) ? JSON.parse(readFileSync(o.state, 'utf8')) : { accounts: {} };
  const journal = (rec) => appendFileSync(o.journal, `${JSON.stringify({ phase, ...rec })}\n`);
  // SIGUSR1 (sent at the cut): no new request, but answers already on their way are still read.
  let stopping = false;
  process.on('SIGUSR1', () => { stopping = true; });
  const stopped = new Promise((resolve) => {
    for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { stopping = true; resolve(); });
  });
  let nextId = 0;
  const accounts = accountList(o.accounts).map((a) => ({ ...a, challenge: undefined, nc: 0, contacts: [], pending: null, idle: false }));

  // Contacts carried over from the last check: their reach address (port) again when it is free.
  for (const a of accounts) {
    for (const c of state.accounts[a.number]?.contacts ?? []) {
      let line;
      try { line = await Line.open(c.port); } catch { line = await Line.open(0); }
      a.contacts.push({ uri: c.uri, port: c.port, callId: c.callId, cseq: c.cseq, line });
    }
  }

  async function act(a) {
    let action;
    const r = Math.random();
    if (a.contacts.length === 0 || (mixed && r < 0.15 && a.contacts.length <= maxBindings)) action = 'new';
    else if (mixed && r < 0.25) action = 'unregister';
    else action = 'refresh';
    let c;
    if (action === 'new') {
      const line = await Line.open(0);
      c = { uri: `sip:${a.number}@127.0.0.1:${line.port}`, port: line.port, callId: `${hex(8)}@powercut`, cseq: 0, line };
    } else {
      c = a.contacts[Math.floor(Math.random() * a.contacts.length)];
    }
    const id = ++nextId;
    const expires = action === 'unregister' ? 0 : 3600;
    a.pending = { id, action, contact: c };
    journal({ ev: 'req', id, account: a.number, action, contact: c.uri, port: c.port, callId: c.callId, expires, atMs: Date.now() });
    const { response, sentMs } = await register(to, c.line, a, { callId: c.callId, cseq: () => ++c.cseq, contact: c.uri, expires }, 16_000);
    if (response === null) {
      journal({ ev: 'timeout', id, account: a.number, atMs: Date.now() });
      a.idle = true;   // unresolved: the check allows either outcome, so this account stops for the phase
      if (action === 'new') c.line.close();
      return;
    }
    const listed = response.status === 200 ? contactsOf(response) : [];
    journal({ ev: 'res', id, account: a.number, status: response.status, sentMs, recvMs: Date.now(), contacts: listed });
    a.pending = null;
    if (response.status !== 200) { a.idle = true; if (action === 'new') c.line.close(); return; }
    // What the registrar now holds for this number is exactly the 200's list.
    const held = new Map([...a.contacts, c].map((x) => [x.uri, x]));
    a.contacts = listed.map((l) => held.get(l.uri)).filter(Boolean);
    for (const x of held.values()) if (!a.contacts.includes(x)) x.line.close();
  }

  async function loop(a) {
    while (!stopping && !a.idle) {
      await act(a);
      await sleep(200 + Math.random() * 800);
    }
  }
  const loops = accounts.map((a) => loop(a));
  await stopped;
  // The state for the check: held contacts and the unanswered request (its contact may have committed).
  const out = { accounts: {} };
  for (const a of accounts) {
    const p = a.pending;
    out.accounts[a.number] = {
      contacts: a.contacts.map((c) => ({ uri: c.uri, port: c.port, callId: c.callId, cseq: c.cseq })),
      pending: p === null ? null : { id: p.id, action: p.action, uri: p.contact.uri, port: p.contact.port, callId: p.contact.callId, cseq: p.contact.cseq },
    };
  }
  writeFileSync(`${o.state}.phone`, `${JSON.stringify(out, null, 1)}\n`);
  void loops;
  process.exit(0);
}

// ---- clock, query ---------------------------------------------------------------------------------------

async function clock(o) {
  const to = target(o.target);
  const [account] = accountList(o.account);
  const line = await Line.open(0);
  const contact = `sip:${account.number}@127.0.0.1:${line.port}`;
  let cseq = 0;
  const { response, sentMs } = await register(to, line, { ...account, nc: 0 }, { callId: `${hex(8)}@powercut-clock`, cseq: () => ++cseq, contact, expires: 3600 }, 16_000);
  const recvMs = Date.now();
  line.close();
  if (response === null || response.status !== 200) fail(`clock probe: ${response === null ? 'no answer' : response.first}`);
  writeFileSync(o.out, `${JSON.stringify({ contact, sentMs, recvMs })}\n`);
}

function offset(o) {
  const probe = JSON.parse(readFileSync(o.clock, 'utf8'));
  const b = JSON.parse(readFileSync(o.list, 'utf8')).find((x) => x.contact === probe.contact);
  if (!b) fail(`the clock probe ${probe.contact} is not in ${o.list}`);
  const guestMs = Date.parse(b.registered_at);
  process.stdout.write(`${JSON.stringify({ boot: Number(o.boot), bootStartMs: Number(o['boot-start-ms']),
    offsetMs: Math.round(guestMs - (probe.sentMs + probe.recvMs) / 2), uncertaintyMs: Math.round((probe.recvMs - probe.sentMs) / 2) })}\n`);
}

async function query(o) {
  const to = target(o.target);
  const out = [];
  for (const a of accountList(o.accounts)) {
    const line = await Line.open(0);
    let cseq = 0;
    const { response, sentMs } = await register(to, line, { ...a, nc: 0 }, { callId: `${hex(8)}@powercut-query`, cseq: () => ++cseq }, 16_000);
    line.close();
    if (response === null || response.status !== 200) fail(`query ${a.number}: ${response === null ? 'no answer' : response.first}`);
    out.push({ account: a.number, sentMs, recvMs: Date.now(), contacts: contactsOf(response) });
  }
  writeFileSync(o.out, `${JSON.stringify(out, null, 1)}\n`);
}

// ---- check ---------------------------------------------------------------------------------------------

/**
 * One account after a cut. `expected` is what the phones were last told: the contacts of the last 200
 * (or, with no 200 since the last check, the state that check found and told a phone through its query),
 * each with `promiseMs`, the earliest expiry the registrar can have meant (host clock): the 200's
 * expires counted from when its request was sent, less the second the registrar's rounding up may add.
 * `pending` is the request the cut left unanswered, which may or may not have been committed.
 * Observed: the store's bindings (`sipreg list --json`) and the live answer to a query; a binding's
 * expiry is the later of the two readings (the service may report a recovery margin it keeps in memory).
 * Rules: the set of contacts is the acknowledged one, or the acknowledged one with the pending request
 * applied (a new contact added, replacing the oldest when the number is full; an unregistered one gone);
 * each acknowledged contact expires no earlier than its promise, within the binding's `tolMs` (the
 * uncertainty of the guest clock's offset in the boot that wrote it).
 */
function checkAccount(expected, pending, observed, maxBindings) {
  const problems = [];
  const exp = new Set(expected.map((c) => c.uri));
  const obs = new Set(observed.map((c) => c.uri));
  const same = (set) => set.size === obs.size && [...set].every((u) => obs.has(u));
  let outcome = 'as acknowledged';
  if (!same(exp)) {
    let fits = false;
    if (pending !== null) {
      const u = pending.uri;
      if (pending.action === 'unregister' && exp.has(u)) fits = same(new Set([...exp].filter((x) => x !== u)));
      else if (!exp.has(u)) {
        fits = exp.size < maxBindings ? same(new Set([...exp, u]))
          : obs.has(u) && obs.size === maxBindings && [...obs].every((x) => x === u || exp.has(x));
      }
    }
    if (fits) outcome = `with the unanswered ${pending.action} applied`;
    else {
      const missing = [...exp].filter((u) => !obs.has(u));
      const extra = [...obs].filter((u) => !exp.has(u));
      problems.push(`contacts differ from the last acknowledged state: missing [${missing.join(' ')}], unexpected [${extra.join(' ')}]` +
        (pending === null ? '' : ` (unanswered at the cut: ${pending.action} ${pending.uri})`));
    }
  }
  let worstMarginMs = Infinity;
  for (const e of expected) {
    const o = observed.find((x) => x.uri === e.uri);
    if (o === undefined || e.promiseMs === null) continue;
    const marginMs = o.expiresMs - e.promiseMs;
    worstMarginMs = Math.min(worstMarginMs, marginMs);
    if (marginMs < -o.tolMs) {
      problems.push(`${e.uri} expires ${new Date(o.expiresMs).toISOString()}, ${(-marginMs / 1000).toFixed(1)} s before the ` +
        `${new Date(e.promiseMs).toISOString()} its last 200 promised`);
    }
  }
  return { problems, outcome, worstMarginMs };
}

function check(o) {
  const phase = Number(o.phase);
  const maxBindings = Number(o['max-bindings']);
  const state = existsSync(o.state) ? JSON.parse(readFileSync(o.state, 'utf8')) : { accounts: {} };
  const phoneState = JSON.parse(readFileSync(`${o.state}.phone`, 'utf8'));
  const journal = readFileSync(o.journal, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.phase === phase);
  const list = JSON.parse(readFileSync(o.list, 'utf8'));
  const queries = JSON.parse(readFileSync(o.queries, 'utf8'));
  const offsets = readFileSync(o.offsets, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l)).sort((a, b) => b.boot - a.boot);
  // A stored expiry is a guest-clock time of the boot that wrote it: the latest boot that had started by
  // the binding's refreshed_at, read on that boot's clock. The promises are host times.
  const writer = (refreshedGuestMs) => offsets.find((x) => refreshedGuestMs - x.offsetMs >= x.bootStartMs) ?? offsets.at(-1);

  const reqs = new Map(journal.filter((r) => r.ev === 'req').map((r) => [r.id, r]));
  const answerMs = journal.filter((r) => r.ev === 'res' && r.status === 200).map((r) => r.recvMs - r.sentMs).sort((a, b) => a - b);
  let lines = '';
  let violations = 0;
  const summary = { phase, acknowledged: { new: 0, refresh: 0, unregister: 0 }, unanswered: 0, accounts: 0, appliedPending: 0, worstMarginS: null, tolS: 0, p50AnswerMs: null };
  const next = { accounts: {} };
  for (const [number, ph] of Object.entries(phoneState.accounts)) {
    // What the phones were told: the state after the last check, then each 200 of this phase in turn.
    let expected = (state.accounts[number]?.contacts ?? []).map((c) => ({ uri: c.uri, promiseMs: c.promiseMs ?? null }));
    for (const r of journal.filter((x) => x.ev === 'res' && x.account === number)) {
      const req = reqs.get(r.id);
      if (r.status !== 200) continue;
      summary.acknowledged[req.action]++;
      expected = r.contacts.map((c) => ({ uri: c.uri, promiseMs: c.expires === null ? null : r.sentMs + c.expires * 1000 - 1000 }));
    }
    const pending = ph.pending;
    if (pending !== null) summary.unanswered++;
    const query = queries.find((q) => q.account === number);
    const observed = list.filter((b) => b.number === number).map((b) => {
      const live = query?.contacts.find((c) => c.uri === b.contact);
      const w = writer(Date.parse(b.refreshed_at));
      const storedMs = Date.parse(b.expires_at) - w.offsetMs;
      const liveMs = live?.expires == null ? -Infinity : query.sentMs + live.expires * 1000 - 1000;
      const tolMs = 250 + w.uncertaintyMs;
      summary.tolS = Math.max(summary.tolS, tolMs / 1000);
      return { uri: b.contact, expiresMs: Math.max(storedMs, liveMs), liveMs, tolMs };
    });
    const fromQuery = new Set((query?.contacts ?? []).map((c) => c.uri));
    const result = checkAccount(expected, pending, observed, maxBindings);
    if (!same(fromQuery, new Set(observed.map((x) => x.uri)))) result.problems.push(`the running service reports [${[...fromQuery].join(' ')}], the store [${observed.map((x) => x.uri).join(' ')}]`);
    if (result.outcome !== 'as acknowledged') summary.appliedPending++;
    summary.accounts++;
    if (Number.isFinite(result.worstMarginMs)) summary.worstMarginS = Math.min(summary.worstMarginS ?? Infinity, result.worstMarginMs / 1000);
    violations += result.problems.length;
    lines += `  ${number}: ${observed.length} binding(s) ${result.outcome}` +
      (Number.isFinite(result.worstMarginMs) ? `, earliest expiry ${(result.worstMarginMs / 1000).toFixed(1)} s past its promise` : '') +
      (result.problems.length === 0 ? ': ok\n' : `\n${result.problems.map((p) => `    VIOLATION ${p}\n`).join('')}`);
    // The next phase starts from what is there; the query just told a phone its expiries, so those are
    // the promises from now on (the later of them and the 200's).
    const known = new Map([...ph.contacts, ...(pending ? [pending] : [])].map((c) => [c.uri, c]));
    next.accounts[number] = {
      contacts: observed.filter((x) => known.has(x.uri)).map((x) => {
        const k = known.get(x.uri);
        const before = expected.find((e) => e.uri === x.uri)?.promiseMs ?? null;
        const live = Number.isFinite(x.liveMs) ? x.liveMs : null;
        return { uri: x.uri, port: k.port, callId: k.callId, cseq: k.cseq, promiseMs: before === null ? live : live === null ? before : Math.max(before, live) };
      }),
    };
  }
  if (answerMs.length > 0) summary.p50AnswerMs = answerMs[answerMs.length >> 1];
  writeFileSync(o.state, `${JSON.stringify(next, null, 1)}\n`);
  process.stdout.write(lines);
  process.stdout.write(`${JSON.stringify({ ...summary, violations })}\n`);
  process.exit(violations === 0 ? 0 : 1);
}

function same(a, b) { return a.size === b.size && [...a].every((x) => b.has(x)); }

const o = args(process.argv.slice(2));
switch (o._) {
  case 'phone': await phone(o); break;
  case 'clock': await clock(o); break;
  case 'offset': offset(o); break;
  case 'query': await query(o); break;
  case 'check': check(o); break;
  default: fail('usage: powercut.mjs phone|clock|offset|query|check ...');
}
