// Issue 4 flood limits through `sipreg run` with the default SS_REGISTER_RATE_PER_IP/BURST: a UDP
// blaster at 127.0.0.9 sends REGISTERs at ~100x the per-address rate while SIPp phones on other
// loopback addresses register with digest. The phones' success rate stays >= 99.9 %, the flood's
// excess is dropped and counted (`sipreg stats --json`), and the service's RSS stays bounded.
import t from 'tap';
import dgram from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { accountsYaml, sipp, startService, type Service } from './service.js';

const PHONE_HOSTS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'];
const PER_HOST = 10;
const CALLS_PER_S = 4;        // per host: 8 REGISTERs/s, under the default 20/s per address
const CALLS_PER_HOST = 60;    // ~15 s
const FLOOD_PER_S = 2000;     // 100x the default SS_REGISTER_RATE_PER_IP
const RATE_PER_IP = 20;       // the defaults, asserted below through `sipreg params`
const BURST_PER_IP = 60;

const numbersOf = (h: number): string[] => Array.from({ length: PER_HOST }, (_, i) => String(3000 + h * 100 + i));
const all = PHONE_HOSTS.flatMap((_, h) => numbersOf(h));

let svc: Service;
t.before(async () => {
  // The counters snapshot `sipreg stats` reads is written with the service's flush: every 2 s here.
  svc = await startService('params:\n  SS_ENDPOINT_EXPIRE_JITTER: 0\n  SS_STORE_FLUSH_INTERVAL: 2\n' + accountsYaml([...all, '9000']));
});
t.teardown(() => svc.kill('SIGTERM'));

interface Counters { registers_dropped: number; registers_received: number; registers_accepted: number; datagrams_received: number }
function counters(): { at: number; c: Counters } {
  const s = JSON.parse(svc.cli(['stats', '--json']).stdout) as { counters_at: string | null; counters: Counters | null };
  return { at: s.counters_at === null ? 0 : Date.parse(s.counters_at), c: s.counters! };
}
async function countersAfter(ms: number): Promise<Counters> {
  const end = Date.now() + 20_000;
  for (;;) {
    const { at, c } = counters();
    if (at > ms) return c;
    if (Date.now() > end) throw new Error('counters snapshot not refreshed');
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** Sends unauthenticated REGISTERs for 9000 from 127.0.0.9, each a new transaction, until stopped. */
async function blaster(port: number): Promise<{ stop: () => Promise<number> }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.9', resolve));
  const local = sock.address().port;
  sock.on('message', () => { /* the few 401s the bucket lets through */ });
  let sent = 0;
  const started = Date.now();
  const msg = (i: number): Buffer => Buffer.from([
    'REGISTER sip:127.0.0.1 SIP/2.0', `Via: SIP/2.0/UDP 127.0.0.9:${local};branch=z9hG4bKflood${i};rport`, 'Max-Forwards: 70',
    `From: <sip:9000@127.0.0.1>;tag=f${i}`, 'To: <sip:9000@127.0.0.1>', `Call-ID: flood-${i}@127.0.0.9`, `CSeq: ${i + 1} REGISTER`,
    `Contact: <sip:9000@127.0.0.9:${local}>`, 'Expires: 60', 'User-Agent: flood', 'Content-Length: 0', '', ''].join('\r\n'));
  const timer = setInterval(() => {
    const due = Math.min(Math.floor(((Date.now() - started) / 1000) * FLOOD_PER_S), sent + FLOOD_PER_S / 10);
    while (sent < due) sock.send(msg(sent++), port, '127.0.0.1');
  }, 5);
  return {
    async stop() {
      clearInterval(timer);
      await new Promise((r) => setTimeout(r, 200));
      sock.close();
      return sent;
    },
  };
}

function sippTotals(stdout: string): { ok: number; failed: number } {
  const num = (label: string): number => {
    const m = new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(stdout);
    if (m === null) throw new Error(`no "${label}" in SIPp output:\n${stdout.slice(-3000)}`);
    return Number(m[1]);
  };
  return { ok: num('Successful call'), failed: num('Failed call') };
}

t.test('a flood from one address leaves phones on other addresses at >= 99.9 % success, dropped and counted, RSS bounded', async (t) => {
  const params = svc.cli(['params']).stdout;
  t.match(params, new RegExp(`SS_REGISTER_RATE_PER_IP\\s+${RATE_PER_IP}\\b`), 'default per-address rate in force');
  t.match(params, new RegExp(`SS_REGISTER_BURST_PER_IP\\s+${BURST_PER_IP}\\b`), 'default burst in force');

  // Warm up (first phones, first store writes) before taking the baseline RSS.
  const warm = await sipp(svc, 'register-auth.xml', ['-s', all[0]!, '-au', all[0]!, '-ap', 'secret', '-m', '1'], 30_000, { localIp: PHONE_HOSTS[0]! });
  t.equal(warm.code, 0, warm.errors);
  const rssBefore = svc.rssKiB();
  const before = await countersAfter(Date.now());

  const flood = await blaster(svc.port);
  const floodStarted = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  const runs = PHONE_HOSTS.map((host, h) => {
    const csv = join(svc.dir, `users-${h}.csv`);
    writeFileSync(csv, `SEQUENTIAL\n${numbersOf(h).map((n) => `${n};secret`).join('\n')}\n`);
    return sipp(svc, 'load-auth.xml', ['-inf', csv, '-au', '[field0]', '-ap', '[field1]', '-r', String(CALLS_PER_S), '-m', String(CALLS_PER_HOST)],
      120_000, { localIp: host });
  });
  const results = await Promise.all(runs);
  const sent = await flood.stop();
  const floodS = (Date.now() - floodStarted) / 1000;
  const rssAfter = svc.rssKiB();

  let ok = 0;
  let failed = 0;
  for (const r of results) {
    const s = sippTotals(r.stdout);
    ok += s.ok;
    failed += s.failed;
  }
  t.equal(ok + failed, PHONE_HOSTS.length * CALLS_PER_HOST, 'every phone registration ran');
  const rate = ok / (ok + failed);
  t.ok(rate >= 0.999, `phone success rate ${(rate * 100).toFixed(2)} % (${ok} ok, ${failed} failed) during a ${FLOOD_PER_S}/s flood`);
  t.ok(sent >= FLOOD_PER_S * floodS * 0.5, `the blaster kept up: ${sent} REGISTERs in ${floodS.toFixed(1)} s`);

  const after = await countersAfter(Date.now());
  const dropped = after.registers_dropped - before.registers_dropped;
  const received = after.registers_received - before.registers_received;
  const allowed = BURST_PER_IP + RATE_PER_IP * (floodS + 1);
  t.comment(`flood: sent ${sent}, service received ${received} REGISTERs, dropped ${dropped}; allowed at most ~${Math.round(allowed)}`);
  const phoneRegisters = (ok + failed) * 2;
  t.ok(received - dropped <= phoneRegisters * 1.1 + allowed, `processed ${received - dropped}: the phones' ${phoneRegisters} and at most the flood's bucket`);
  t.ok(dropped >= (sent - allowed) * 0.9, 'the flood beyond the bucket was dropped and counted (not lost in the kernel)');
  t.ok(dropped <= sent, 'nothing else was counted as dropped');
  t.ok(after.registers_accepted - before.registers_accepted >= ok, 'every phone success is a 200 in the counters');

  t.comment(`RSS before ${Math.round(rssBefore / 1024)} MiB, after ${Math.round(rssAfter / 1024)} MiB`);
  t.ok(rssAfter - rssBefore < 64 * 1024, `RSS grew ${Math.round((rssAfter - rssBefore) / 1024)} MiB (< 64 MiB)`);
  t.equal(svc.cli(['list', '--number', '9000', '--json']).stdout.trim(), '[]', 'the flood registered nothing');
});
