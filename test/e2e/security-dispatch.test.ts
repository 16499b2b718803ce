// Issue 13 items 3 and 11 through `sipreg run`: what a flooder cannot do to the dispatcher and the
// transaction cache any more.
//   - hash flooding: Via branches crafted to collide in the cache's old unkeyed FNV-1a index cost the
//     service no more CPU per datagram than ordinary ones (the index is keyed and its chains bounded);
//   - every method, not only REGISTER, meets the static ACL and the per-source budget before it costs
//     anything: an OPTIONS flood "from" a spoofed victim is answered at most a budget's worth of times.
import t from 'tap';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { accountsYaml, startService, type Service } from './service.js';
import { SipClient } from '../registrar/sipclient.js';
import { collidingBranches, fnv1aOld, oldKeyPrefix, oldKeySuffix } from '../helpers/fnv-collisions.js';
import { sleep } from '../helpers/wait.js';
import { limits } from '../../src/limits.js';


/** User + system CPU time of a process so far, in ms (/proc/PID/stat fields 14 and 15, clock ticks). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ is 100 on Linux
}

function options(branch: string, address: string, port: number): Buffer {
  return Buffer.from(`OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP ${address}:${port};branch=${branch}\r\nMax-Forwards: 70\r\n` +
    `From: <sip:flood@${address}>;tag=f1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: ${branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
}

async function bound(address: string): Promise<{ sock: dgram.Socket; port: number }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, address, resolve));
  return { sock, port: sock.address().port };
}

/**
 * Sends every datagram with at most `window` unanswered (closed loop, so the kernel drops nothing and
 * the service does all the work); a lull of a second counts the outstanding ones as lost. Resolves
 * with the answers received.
 */
function closedLoop(sock: dgram.Socket, port: number, datagrams: Buffer[], window = 64): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let answered = 0;
    let inFlight = 0;
    let lastAnswerMs = Date.now();
    const pump = (): void => {
      while (inFlight < window && sent < datagrams.length) { sock.send(datagrams[sent++]!, port, '127.0.0.1'); inFlight++; }
    };
    const onMessage = (): void => { answered++; inFlight--; lastAnswerMs = Date.now(); pump(); finishIfDone(); };
    const timer = setInterval(() => {
      if (Date.now() - lastAnswerMs < 1000) return;
      inFlight = 0;
      lastAnswerMs = Date.now();
      pump();
      finishIfDone();
    }, 200);
    const finishIfDone = (): void => {
      if (sent < datagrams.length || (inFlight > 0 && answered < sent)) return;
      clearInterval(timer);
      sock.off('message', onMessage);
      resolve(answered);
    };
    sock.on('message', onMessage);
    pump();
  });
}

t.test('hash flooding: branches colliding in the old index cost no more than ordinary ones', async (t) => {
  // A generous per-source budget: this test is about the cache, which spoofed sources reach whatever
  // the budget (each forged address has a bucket of its own).
  const svc = await startService('params:\n  SS_REGISTER_RATE_PER_IP: 0\n' + accountsYaml(['1001']));
  t.teardown(() => svc.kill('SIGTERM'));
  const pid = svc.child.pid!;
  const FILL = limits.transactionCacheMax; // the service's cache (this machine's): from here on every insertion evicts the oldest entry
  const MEASURED = 12_000;

  const control = await bound('127.0.0.3');
  const attacker = await bound('127.0.0.2');
  t.teardown(() => { control.sock.close(); attacker.sock.close(); });

  const colliding = collidingBranches(FILL + MEASURED, '127.0.0.2', attacker.port);
  const oldBucket = (branch: string): number =>
    fnv1aOld(oldKeySuffix('127.0.0.2', attacker.port), fnv1aOld(Buffer.from(branch, 'latin1'), fnv1aOld(oldKeyPrefix('OPTIONS', '127.0.0.2', attacker.port)))) & 0xffff;
  t.equal(new Set(colliding.map(oldBucket)).size, 1, `${colliding.length} distinct branches, one bucket of the old index`);
  t.equal(new Set(colliding).size, colliding.length);
  const ordinary = Array.from({ length: FILL + MEASURED }, (_, i) => `z9hG4bK-ordinary-${i}-${Math.random().toString(36).slice(2)}`);
  t.ok(new Set(ordinary.slice(0, 1000).map((b) => fnv1aOld(Buffer.from(b)) & 0xffff)).size > 900, '(ordinary branches spread)');

  // Control first: ordinary branches fill the cache, then MEASURED more each evict one. A warm-up before
  // (the service's code compiled by then), so the phases compare like with like.
  const toDatagrams = (branches: string[], address: string, port: number): Buffer[] => branches.map((b) => options(b, address, port));
  await closedLoop(control.sock, svc.port, toDatagrams(Array.from({ length: 5000 }, (_, i) => `z9hG4bK-warm-${i}`), '127.0.0.3', control.port));
  const controlFill = toDatagrams(ordinary.slice(0, FILL), '127.0.0.3', control.port);
  const controlMeasured = toDatagrams(ordinary.slice(FILL), '127.0.0.3', control.port);
  let cpu = cpuMs(pid);
  await closedLoop(control.sock, svc.port, controlFill);
  const controlFillCpuMs = cpuMs(pid) - cpu;
  cpu = cpuMs(pid);
  let wall = Date.now();
  const controlAnswered = await closedLoop(control.sock, svc.port, controlMeasured);
  const controlCpuMs = cpuMs(pid) - cpu;
  const controlWallMs = Date.now() - wall;

  // The attack: the colliding branches fill the cache (one chain in the old index), then MEASURED more.
  const attackFill = toDatagrams(colliding.slice(0, FILL), '127.0.0.2', attacker.port);
  const attackMeasured = toDatagrams(colliding.slice(FILL), '127.0.0.2', attacker.port);
  cpu = cpuMs(pid);
  wall = Date.now();
  await closedLoop(attacker.sock, svc.port, attackFill);
  const fillCpuMs = cpuMs(pid) - cpu;
  const fillWallMs = Date.now() - wall;
  cpu = cpuMs(pid);
  wall = Date.now();
  const attackAnswered = await closedLoop(attacker.sock, svc.port, attackMeasured);
  const attackCpuMs = cpuMs(pid) - cpu;
  const attackWallMs = Date.now() - wall;

  t.comment(`service CPU for ${MEASURED} OPTIONS into a full cache: ordinary ${controlCpuMs} ms (${controlWallMs} ms wall), ` +
    `colliding ${attackCpuMs} ms (${attackWallMs} ms wall); filling it with ${FILL}: ordinary ${controlFillCpuMs} ms CPU, ` +
    `colliding ${fillCpuMs} ms CPU (${fillWallMs} ms wall)`);
  t.ok(controlAnswered >= MEASURED * 0.99, `ordinary OPTIONS answered (${controlAnswered})`);
  t.ok(attackAnswered >= MEASURED * 0.99, `colliding OPTIONS answered (${attackAnswered})`);
  // Before the fix: each colliding datagram walked a chain of 32,768 entries twice (lookup, then the
  // eviction's unlink), several times the cost of the whole parse-and-answer.
  t.ok(attackCpuMs <= controlCpuMs * 2 + 200, `colliding branches cost ${attackCpuMs} ms CPU, ordinary ones ${controlCpuMs} ms`);
  t.ok(fillCpuMs <= controlFillCpuMs * 1.5 + 200, `filling the cache with colliding branches cost ${fillCpuMs} ms CPU, with ordinary ones ${controlFillCpuMs} ms`);

  // And a phone still gets its answer at once afterwards.
  const phone = await SipClient.open(svc.port, '127.0.0.4');
  t.teardown(() => phone.close());
  const started = Date.now();
  const r = await phone.register({ user: '1001', expires: 60 });
  t.equal(r.status, 401, `a phone's REGISTER is challenged (${Date.now() - started} ms)`);
});

// --- every method meets the ACL, the per-source budget and address suspensions ---------------------

/** An OPTIONS, INVITE, CANCEL and a malformed request (bad CSeq) as `c` would send them. */
function requests(c: SipClient, tag: string): { name: string; text: string; branch: string }[] {
  const make = (method: string, cseq: string): { name: string; text: string; branch: string } => {
    const branch = `z9hG4bK-${tag}-${method.toLowerCase()}-${Math.random().toString(36).slice(2)}`;
    const text = [`${method} sip:127.0.0.1 SIP/2.0`, `Via: SIP/2.0/UDP ${c.host}:${c.port};branch=${branch};rport`, 'Max-Forwards: 70',
      `From: <sip:probe@${c.host}>;tag=p1`, 'To: <sip:127.0.0.1>', `Call-ID: ${branch}`, `CSeq: ${cseq} ${method}`, 'Content-Length: 0', '', ''].join('\r\n');
    return { name: cseq === 'x' ? `malformed ${method}` : method, text, branch };
  };
  return [make('OPTIONS', '1'), make('INVITE', '1'), make('CANCEL', '1'), make('OPTIONS', 'x')];
}

/** The status answered to each request, null where nothing came within `waitMs`. */
async function statuses(c: SipClient, list: { name: string; text: string; branch: string }[], waitMs = 1000): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  await Promise.all(list.map(async (r) => { out[r.name] = await c.request(r.text, r.branch, waitMs).then((x) => x.status, () => null); }));
  return out;
}

interface Counters { requests_dropped: number; registers_dropped: number }
async function countersAfter(svc: Service, ms: number): Promise<Counters> {
  const end = Date.now() + 20_000;
  for (;;) {
    const s = JSON.parse(svc.cli(['stats', '--json']).stdout) as { counters_at: string | null; counters: Counters | null };
    if (s.counters_at !== null && Date.parse(s.counters_at) > ms && s.counters !== null) return s.counters;
    if (Date.now() > end) throw new Error('counters snapshot not refreshed');
    await sleep(500);
  }
}

t.test('the static ACL and address suspensions apply to every method, not only REGISTER', async (t) => {
  const svc = await startService('acl:\n  deny: ["127.0.0.7/32"]\nparams:\n  SS_STORE_FLUSH_INTERVAL: 2\n  SS_REGISTER_SCANNER_NUMBERS: 2\n  SS_ENDPOINT_REGISTER_RETRY: 6\n' +
    accountsYaml(['1001', '1002']));
  t.teardown(() => svc.kill('SIGTERM'));
  const denied = await SipClient.open(svc.port, '127.0.0.7');
  const other = await SipClient.open(svc.port, '127.0.0.8');
  const scanner = await SipClient.open(svc.port, '127.0.0.11');
  t.teardown(() => { denied.close(); other.close(); scanner.close(); });
  const startedMs = Date.now();

  const expected = { 'OPTIONS': 200, 'INVITE': 405, 'CANCEL': 481, 'malformed OPTIONS': 400 };
  t.same(await statuses(other, requests(other, 'other')), expected, 'an address outside acl.deny is answered');
  t.same(await statuses(denied, requests(denied, 'denied')), { 'OPTIONS': null, 'INVITE': null, 'CANCEL': null, 'malformed OPTIONS': null },
    'an address in acl.deny is answered nothing, whatever the method');
  t.equal(await denied.register({ user: '1001' }, 1000).then((r) => r.status, () => null), null, '(nor its REGISTER, as before)');

  // A scanner failing for two numbers is suspended as a whole; from then on its OPTIONS go unanswered too.
  t.same(await statuses(scanner, requests(scanner, 'before')), expected, 'the scanner\'s address is answered at first');
  for (const n of ['1001', '1002']) t.equal((await scanner.registerWithAuth({ user: n, password: 'wrong' })).final.status, 403, `wrong password for ${n}`);
  const end = Date.now() + 10_000;
  while (!svc.cli(['lockouts', '--json']).stdout.includes('127.0.0.11')) {
    if (Date.now() > end) throw new Error('no address lockout');
    await sleep(100);
  }
  t.same(await statuses(scanner, requests(scanner, 'after')), { 'OPTIONS': null, 'INVITE': null, 'CANCEL': null, 'malformed OPTIONS': null },
    'once suspended (SS_REGISTER_LOCKOUT_DROP On) the address is answered nothing, whatever the method');
  t.same(await statuses(other, requests(other, 'other2')), expected, 'other addresses still are');

  const c = await countersAfter(svc, Date.now());
  t.ok(c.requests_dropped >= 9, `dropped and counted: requests_dropped ${c.requests_dropped}`);
  t.ok(Date.now() - startedMs < 60_000, 'within a minute');
});

t.test('reflection: OPTIONS and INVITE "from" a spoofed victim are answered at most its budget', async (t) => {
  const RATE = 5;
  const BURST = 10;
  const svc = await startService(`params:\n  SS_STORE_FLUSH_INTERVAL: 2\n  SS_REGISTER_RATE_PER_IP: ${RATE}\n  SS_REGISTER_BURST_PER_IP: ${BURST}\n` + accountsYaml(['1001']));
  t.teardown(() => svc.kill('SIGTERM'));
  // Loopback cannot forge a source, so the flood is sent from the victim's own address: to the service it
  // is the same thing, and the victim's socket counts what it is sent.
  const victim = await SipClient.open(svc.port, '127.0.0.9');
  const bystander = await SipClient.open(svc.port, '127.0.0.10');
  t.teardown(() => { victim.close(); bystander.close(); });
  const before = await countersAfter(svc, Date.now());

  // What one OPTIONS draws: a phone's keepalive, and the least a request can carry (compact forms).
  const phoneLike = [
    'OPTIONS sip:127.0.0.1:5060 SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.10:${bystander.port};branch=z9hG4bK1598334017;rport`,
    `From: "1001" <sip:1001@127.0.0.1:5060>;tag=1460457306`, 'To: <sip:127.0.0.1:5060>', 'Call-ID: 1790914489@127.0.0.10', 'CSeq: 1 OPTIONS',
    `Contact: <sip:1001@127.0.0.10:${bystander.port}>`, 'Max-Forwards: 70', 'User-Agent: Yealink SIP-T46S 66.85.0.5',
    'Accept: application/sdp', 'Content-Length: 0', '', ''].join('\r\n');
  const minimal = `OPTIONS sip:a SIP/2.0\r\nv:SIP/2.0/UDP 127.0.0.10:${bystander.port};branch=z9hG4bKm1\r\nf:<sip:a>;tag=1\r\nt:<sip:a>\r\ni:m\r\n` +
    'CSeq:1 OPTIONS\r\nMax-Forwards:70\r\n\r\n';
  const phoneAnswer = await bystander.request(phoneLike, 'z9hG4bK1598334017');
  const minimalAnswer = await bystander.request(minimal, 'z9hG4bKm1');
  t.equal(phoneAnswer.status, 200);
  t.equal(minimalAnswer.status, 200);
  t.comment(`OPTIONS sizes: a phone's ${phoneLike.length} B answered with ${phoneAnswer.text.length} B; ` +
    `the least ${minimal.length} B with ${minimalAnswer.text.length} B (${(minimalAnswer.text.length / minimal.length).toFixed(2)}x)`);
  t.ok(phoneAnswer.text.length <= phoneLike.length, 'a phone\'s OPTIONS is answered with fewer bytes than it has');
  t.same([phoneAnswer.header('allow'), phoneAnswer.header('accept'), phoneAnswer.header('supported')], ['REGISTER, OPTIONS', 'application/sdp', ''],
    'Allow, Accept and Supported (RFC 3261 §11.2)');
  t.notOk(phoneAnswer.headers.has('server'), 'no Server line to fingerprint');

  const FLOOD = 300;
  let received = 0;
  let bytesSent = 0;
  let bytesReflected = 0;
  victim.socket.on('message', (b: Buffer) => { received++; bytesReflected += b.length; });
  const startedMs = Date.now();
  for (let i = 0; i < FLOOD; i++) {
    const r = requests(victim, `flood${i}`)[i % 2]!; // OPTIONS and INVITE in turn
    bytesSent += Buffer.byteLength(r.text);
    victim.sendRaw(r.text);
    if (i % 50 === 49) await sleep(10);
  }
  await sleep(1000);
  const elapsedS = (Date.now() - startedMs) / 1000;
  const allowed = BURST + RATE * elapsedS + 1;
  t.comment(`${FLOOD} requests (${bytesSent} B) in ${elapsedS.toFixed(1)} s drew ${received} answers (${bytesReflected} B); budget ${allowed.toFixed(1)}`);
  t.ok(received <= allowed, `answers to the victim ${received} <= its budget ${allowed.toFixed(1)}`);
  t.ok(received >= BURST, `the burst itself is answered (${received})`);
  t.ok(bytesReflected < bytesSent, 'fewer bytes reflected than sent');

  t.same(await statuses(bystander, requests(bystander, 'bystander')), { 'OPTIONS': 200, 'INVITE': 405, 'CANCEL': 481, 'malformed OPTIONS': 400 },
    'another address has its own budget');
  await sleep(1000 / RATE + 100);
  const again = requests(victim, 'again')[0]!;
  t.equal((await victim.request(again.text, again.branch)).status, 200, 'the victim\'s address is answered again once its bucket refills');

  const after = await countersAfter(svc, Date.now());
  const dropped = after.requests_dropped - before.requests_dropped;
  t.ok(dropped >= FLOOD - allowed, `the excess was dropped and counted: ${dropped}`);
  t.equal(after.registers_dropped, before.registers_dropped, 'none of it counted as a dropped REGISTER');
});
