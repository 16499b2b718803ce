#!/usr/bin/env node
// The SIP and QEMU-monitor steps of image/test-image.sh, on Node's own modules only.
//
//   node image/test-sip.mjs probe HOST:PORT DEADLINE_S       first SIP answer to OPTIONS (any status)
//   node image/test-sip.mjs query HOST:PORT USER PASSWORD    REGISTER without Contact (RFC 3261 §10.2.3),
//                                                            digest auth; prints the bindings of the 200 OK
//   node image/test-sip.mjs register HOST:PORT USER PASSWORD CONTACT   REGISTER with digest (RFC 2617 MD5)
//   node image/test-sip.mjs refused HOST:PORT USER PASSWORD CONTACT    the same, succeeds only if a 4xx
//                                                            answers it (credentials that do not work); a 5xx
//                                                            proves nothing: retried for up to 60 s
// PASSWORD "ha1:<32 hex>" answers with that HA1 (a published HA1 is as good as the password).
//   node image/test-sip.mjs monitor SOCKET COMMAND            one HMP command to QEMU's monitor socket
// Exit 0 on success, 1 on a wrong answer or a timeout.
import dgram from 'node:dgram';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

const [cmd, ...rest] = process.argv.slice(2);
const md5 = (s) => createHash('md5').update(s).digest('hex');
const tag = () => randomBytes(6).toString('hex');

function fail(message) {
  process.stderr.write(`test-sip: ${message}\n`);
  process.exit(1);
}

function target(spec) {
  const i = spec.lastIndexOf(':');
  return { host: spec.slice(0, i), port: Number(spec.slice(i + 1)) };
}

function header(msg, name, compact) {
  const re = new RegExp(`^(?:${name}${compact ? `|${compact}` : ''})[ \\t]*:[ \\t]*(.*)$`, 'gim');
  return [...msg.matchAll(re)].map((m) => m[1].trim());
}

// One UDP socket for a whole exchange, so rport/NAT on the far side sees one source.
function exchanger() {
  const sock = dgram.createSocket('udp4');
  let waiter = null;
  let waiting = null;
  const cseqOf = (text) => /\r\nCSeq:\s*([^\r]*)/i.exec(text)?.[1]?.trim() ?? '';
  sock.on('message', (buf) => {
    const text = buf.toString('utf8');
    if (/^SIP\/2\.0 1\d\d/.test(text)) return; // provisional: keep waiting
    // Only the answer to the request in flight: with retransmissions a late copy of the previous answer
    // (the 401 before the authenticated REGISTER) can still arrive.
    if (waiter && cseqOf(text) === waiting) waiter(text);
  });
  return {
    sock,
    ready: new Promise((resolve) => sock.bind(0, '127.0.0.1', resolve)),
    // Retransmits as a UDP client does (RFC 3261 Timer E: 500 ms, doubling to 4 s) until timeoutMs: a
    // guest under TCG on a loaded host can stall for tens of seconds (soft lockups on the arm64 console),
    // and one lost or late answer is not a failed registrar.
    send(text, to, timeoutMs) {
      return new Promise((resolve) => {
        const buf = Buffer.from(text);
        waiting = cseqOf(text);
        let interval = 500;
        let again = null;
        const resend = () => {
          again = setTimeout(() => { sock.send(buf, to.port, to.host); interval = Math.min(interval * 2, 4000); resend(); }, interval);
        };
        const timer = setTimeout(() => { clearTimeout(again); waiter = null; resolve(null); }, timeoutMs);
        waiter = (resp) => { clearTimeout(timer); clearTimeout(again); waiter = null; resolve(resp); };
        sock.send(buf, to.port, to.host);
        resend();
      });
    },
    close() { sock.close(); },
  };
}

function request(method, to, local, user, { callId, cseq, fromTag, contact, auth, expires }) {
  const domain = `${to.host}:${to.port}`;
  const lines = [
    `${method} sip:${domain} SIP/2.0`,
    `Via: SIP/2.0/UDP ${local.address}:${local.port};branch=z9hG4bK${tag()};rport`,
    'Max-Forwards: 70',
    `From: <sip:${user}@${domain}>;tag=${fromTag}`,
    `To: <sip:${user}@${domain}>`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    'User-Agent: sipreg-image-test',
  ];
  if (contact) lines.push(`Contact: <${contact}>`);
  if (expires !== undefined) lines.push(`Expires: ${expires}`);
  if (auth) lines.push(`Authorization: ${auth}`);
  lines.push('Content-Length: 0', '', '');
  return lines.join('\r\n');
}

function digest(challenge, method, uri, user, password) {
  const param = (k) => (challenge.match(new RegExp(`${k}="?([^",]*)"?`, 'i')) ?? [])[1];
  const realm = param('realm');
  const nonce = param('nonce');
  const opaque = param('opaque');
  const qops = (param('qop') ?? '').split(/\s*,\s*/).filter(Boolean);
  const ha1 = password.startsWith('ha1:') ? password.slice(4) : md5(`${user}:${realm}:${password}`);
  const ha2 = md5(`${method}:${uri}`);
  let value = `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", algorithm=MD5`;
  if (qops.includes('auth')) {
    const cnonce = tag();
    const nc = '00000001';
    value += `, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)}"`;
  } else {
    value += `, response="${md5(`${ha1}:${nonce}:${ha2}`)}"`;
  }
  if (opaque) value += `, opaque="${opaque}"`;
  return value;
}

async function register(to, user, password, contact) {
  const x = exchanger();
  await x.ready;
  const local = x.sock.address();
  const opts = { callId: `${tag()}@sipreg-image-test`, cseq: 1, fromTag: tag(), contact, expires: contact ? 3600 : undefined };
  let resp = await x.send(request('REGISTER', to, local, user, opts), to, 32000); // Timer F
  if (resp && /^SIP\/2\.0 40[17]/.test(resp)) {
    const challenge = header(resp, 'WWW-Authenticate')[0] ?? header(resp, 'Proxy-Authenticate')[0];
    if (!challenge) fail('401 without a challenge');
    opts.cseq = 2;
    opts.auth = digest(challenge, 'REGISTER', `sip:${to.host}:${to.port}`, user, password);
    resp = await x.send(request('REGISTER', to, local, user, opts), to, 32000); // Timer F
  }
  x.close();
  if (!resp) fail('no answer to REGISTER');
  return { status: resp.split('\r\n')[0], contacts: header(resp, 'Contact', 'm') };
}

async function registered(to, user, password, contact) {
  const { status, contacts } = await register(to, user, password, contact);
  if (!/^SIP\/2\.0 200/.test(status)) fail(`REGISTER answered '${status}'`);
  return contacts;
}

switch (cmd) {
  case 'probe': {
    const to = target(rest[0]);
    const deadline = Date.now() + Number(rest[1] ?? 120) * 1000;
    const x = exchanger();
    await x.ready;
    const local = x.sock.address();
    for (;;) {
      const opts = { callId: `${tag()}@sipreg-image-test`, cseq: 1, fromTag: tag() };
      const resp = await x.send(request('OPTIONS', to, local, 'probe', opts), to, 500);
      if (resp) {
        process.stdout.write(`${resp.split('\r\n')[0]}\n`);
        break;
      }
      if (Date.now() > deadline) { x.close(); fail(`no SIP answer from ${rest[0]} within ${rest[1]} s`); }
    }
    x.close();
    break;
  }
  case 'register': {
    const contacts = await registered(target(rest[0]), rest[1], rest[2], rest[3]);
    process.stdout.write(`${contacts.join('\n')}\n`);
    break;
  }
  case 'refused': {
    const deadline = Date.now() + 60_000;
    let status = '';
    for (;;) {
      ({ status } = await register(target(rest[0]), rest[1], rest[2], rest[3]));
      if (!/^SIP\/2\.0 5/.test(status) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 5_000));
    }
    process.stdout.write(`${status}\n`);
    if (!/^SIP\/2\.0 4/.test(status)) fail(`${rest[1]}: REGISTER answered '${status}', not refused`);
    break;
  }
  case 'query': {
    const contacts = await registered(target(rest[0]), rest[1], rest[2], undefined);
    if (contacts.length === 0) fail('the 200 OK lists no bindings');
    process.stdout.write(`${contacts.join('\n')}\n`);
    break;
  }
  case 'monitor': {
    const [socketPath, ...words] = rest;
    await new Promise((resolve, reject) => {
      const c = net.createConnection(socketPath, () => c.write(`${words.join(' ')}\n`));
      c.on('error', reject);
      c.on('data', () => {}); // the banner and the echo
      setTimeout(() => { c.end(); resolve(); }, 500);
    });
    break;
  }
  default:
    fail('usage: test-sip.mjs probe|query|register|refused|monitor ...');
}
