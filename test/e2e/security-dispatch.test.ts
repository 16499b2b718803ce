// Issue 13 item 3 through `sipreg run`: what a flooder cannot do to the transaction cache any more.
//   - hash flooding: Via branches crafted to collide in the cache's old unkeyed FNV-1a index cost the
//     service no more CPU per datagram than ordinary ones (the index is keyed and its chains bounded).
import t from 'tap';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { accountsYaml, startService, type Service } from './service.js';
import { SipClient } from '../registrar/sipclient.js';
import { collidingBranches, fnv1aOld, oldKeyPrefix, oldKeySuffix } from '../helpers/fnv-collisions.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
  const FILL = 32_768; // the default cache: from here on every insertion evicts the oldest entry
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
