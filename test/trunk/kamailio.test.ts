// Issue 5's done-when checks against a real registrar: Kamailio 5.6 (apt) on loopback, started here
// from test/fixtures/kamailio/registrar.cfg. Real sockets, real clock, real digest. Retry delay and
// expiries are set below the YAML ranges (the params object is built directly) to keep this fast.
import t from 'tap';
import dgram from 'node:dgram';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trunks as makeTrunks } from '../../src/trunk/index.js';
import type { Component } from '../../src/component.js';
import type { Params, Trunk } from '../../src/config/types.js';
import { queryEvents, type TrunkStateRecord } from '../../src/store/index.js';
import { Kamailio } from './kamailio.js';
import { TransportEndpoint, type WireEntry } from './udp-endpoint.js';
import { config, context, closeStores, trunk, header, type TestContext } from './fakes.js';
import { sleep, until } from '../helpers/wait.js';

const HERE = dirname(fileURLToPath(import.meta.url));
// Ports are picked free at start: other people's tests share this machine's loopback.
async function freePort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
const [KAM_A, KAM_B, KAM_C] = [await freePort(), await freePort(), await freePort()];
// A: MD5, min_expires 10 (423 below), max_expires 3600. B: SHA-256, max_expires 10 (grants less
// than asked). C: stopped and restarted.

const kamA = new Kamailio({ port: KAM_A, password: 'secret', minExpiresS: 10, maxExpiresS: 3600, algorithm: 'MD5' });
const kamB = new Kamailio({ port: KAM_B, password: 'secret', minExpiresS: 1, maxExpiresS: 10, algorithm: 'SHA-256' });
const kamC = new Kamailio({ port: KAM_C, password: 'secret', minExpiresS: 1, maxExpiresS: 3600, algorithm: 'MD5' });

t.before(async () => {
  await Promise.all([kamA.start(), kamB.start(), kamC.start()]);
});
t.teardown(async () => {
  await Promise.all([kamA.dispose(), kamB.dispose(), kamC.dispose()]);
  await closeStores();
});


function waitFor(what: string, test: () => boolean | Promise<boolean>, timeoutMs: number): Promise<true> {
  return until(what, test, timeoutMs, { everyMs: 20 });
}

interface Run {
  ctx: TestContext;
  endpoint: TransportEndpoint;
  component: Component;
  records: TrunkStateRecord[];
  state(name: string): TrunkStateRecord | undefined;
  stop(): Promise<void>;
}

async function run(listen: string, ts: Trunk[], params: Partial<Params>, routeSource?: () => Promise<string>): Promise<Run> {
  const endpoint = await TransportEndpoint.open([listen]);
  const ctx = context(config(ts, { uaRetryDelayS: 2, ...params }));
  const records: TrunkStateRecord[] = [];
  const component = makeTrunks(ctx, endpoint, {
    random: () => 0, onRecord: (r) => records.push(r), ...(routeSource === undefined ? {} : { routeSource }),
  });
  await component.start();
  return {
    ctx, endpoint, component, records,
    state: (name) => records.filter((r) => r.name === name).at(-1),
    async stop() {
      await component.stop();
      await endpoint.close();
    },
  };
}

function user(w: WireEntry): string {
  return /sip:([^@]+)@/.exec(header(w.text, 'To') ?? '')?.[1] ?? '';
}

/** 200 OKs to REGISTERs with a non-zero expiry, per user, in order. */
function accepted(ep: TransportEndpoint, u: string): WireEntry[] {
  return ep.responses().filter((w) => w.text.startsWith('SIP/2.0 200') && user(w) === u && /REGISTER/.test(header(w.text, 'CSeq') ?? ''));
}

t.test('digest registration shows in the location table; refresh timing for fixed and Auto; SHA-256', async (t) => {
  const r = await run('127.0.0.1:0', [
    trunk({ name: 'fixed', username: '1001', port: KAM_A, domain: '127.0.0.1', expiresS: 12 }),
    trunk({ name: 'auto', username: '1002', port: KAM_A, domain: '127.0.0.1', expiresS: 'auto' }),
    trunk({ name: 'capped', username: '1003', port: KAM_B, domain: '127.0.0.1', expiresS: 'auto' }),
  ], { uaDefaultExpiresS: 14 });
  await waitFor('three registrations', () => ['fixed', 'auto', 'capped'].every((n) => r.state(n)?.state === 'registered'), 5_000);

  const c1 = await kamA.contacts('1001');
  t.equal(c1.length, 1, 'Kamailio holds one contact for 1001');
  const port = r.endpoint.sockets[0]!.port;
  t.equal(c1[0]!.address, `sip:1001@127.0.0.1:${port}`, 'our Contact');
  t.ok(c1[0]!.expiresS > 0 && c1[0]!.expiresS <= 12);
  const firstReg = r.endpoint.registers().find((w) => user(w) === '1001')!;
  t.equal(c1[0]!.callId, header(firstReg.text, 'Call-ID'), 'with our Call-ID');
  t.equal((await kamA.contacts('1002'))[0]?.address, `sip:1002@127.0.0.1:${port}`);
  t.equal((await kamB.contacts('1003'))[0]?.address, `sip:1003@127.0.0.1:${port}`);
  t.equal(r.state('auto')!.grantedExpiresS, 14, 'Auto: asked 14, granted 14');
  t.equal(r.state('capped')!.grantedExpiresS, 10, 'Auto: asked 14, the server granted 10');
  t.equal(r.state('fixed')!.grantedExpiresS, 12);
  const shaAuth = r.endpoint.registers().filter((w) => user(w) === '1003').map((w) => header(w.text, 'Authorization')).find((a) => a !== null);
  t.match(shaAuth!, /algorithm=SHA-256/, 'answered Kamailio\'s SHA-256 challenge');

  await sleep(19_500);
  const expectMs: Record<string, [string, number, number]> = {
    fixed: ['1001', 6_000, 12_000],   // fixed 12: about half
    auto: ['1002', 9_000, 14_000],    // Auto 14: 14 - max(5, 1.4) = 9, not before half (7)
    capped: ['1003', 5_000, 10_000],  // Auto granted 10: half (10 - 5 = 5)
  };
  for (const [name, [u, refreshMs, grantMs]] of Object.entries(expectMs)) {
    const oks = accepted(r.endpoint, u).map((w) => w.atMs);
    const gaps = oks.slice(1).map((at, i) => Math.round(at - oks[i]!));
    t.ok(gaps.length >= 2, `${name}: refreshed ${gaps.length} times in 20 s`);
    for (const g of gaps) {
      // Exact timing is held by agent.test.ts on the fake clock; on real sockets under load only "about".
      t.ok(Math.abs(g - refreshMs) < 500, `${name}: registration renewed after ${g} ms (expected ${refreshMs})`);
      t.ok(g < grantMs, `${name}: before the ${grantMs / 1000} s grant lapses`);
    }
    t.comment(`${name}: 200 OK intervals ${gaps.join(', ')} ms`);
  }
  t.equal((await kamA.contacts('1001')).length, 1, 'still registered, one contact (refreshes replace, not add)');
  t.ok(kamA.requests().some((l) => l.includes('privacy=<null>')), 'Ignore: Kamailio saw no Privacy header');
  await r.stop();
});

t.test('wrong password: retry_wait, attempts RETRY_DELAY apart, reload with the right one recovers', async (t) => {
  const bad = trunk({ name: 'bad', username: '2001', port: KAM_A, domain: '127.0.0.1', password: 'wrong', expiresS: 60 });
  const r = await run('127.0.0.1:0', [bad], { uaRetryDelayS: 2 });
  await waitFor('three failed attempts', () => r.records.filter((x) => x.state === 'retry_wait').length >= 3 && r.endpoint.registers().filter((w) => header(w.text, 'Authorization') === null).length >= 4, 12_000);
  t.equal(r.state('bad')!.state === 'retry_wait' || r.state('bad')!.state === 'registering', true);
  const rw = r.records.find((x) => x.state === 'retry_wait')!;
  t.match(rw.lastReason, /^bad credentials: 401 Unauthorized again after our credentials/);
  t.equal(rw.lastStatus, 401);
  // On the wire: each attempt = REGISTER, 401, REGISTER with credentials, 401. The next attempt's
  // first REGISTER follows the final 401 by the retry delay (exactly, on the fake clock: agent.test.ts).
  const wire = r.endpoint.wire;
  const finals = wire.filter((w, i) => w.dir === 'in' && w.text.startsWith('SIP/2.0 401') &&
    wire.slice(0, i).reverse().find((x) => x.dir === 'out')!.text.includes('\r\nAuthorization:'));
  const starts = r.endpoint.registers().filter((w) => header(w.text, 'Authorization') === null);
  const gaps = finals.slice(0, 3).map((f) => Math.round(starts.find((s) => s.atMs > f.atMs)!.atMs - f.atMs));
  const periods = starts.slice(1, 4).map((s, i) => Math.round(s.atMs - starts[i]!.atMs));
  // Exactly RETRY_DELAY on the fake clock (agent.test.ts); here, on real sockets, about it.
  for (const g of gaps) t.ok(Math.abs(g - 2_000) <= 300, `final 401 -> next attempt: ${g} ms (RETRY_DELAY 2000)`);
  t.comment(`final 401 -> next REGISTER: ${gaps.join(', ')} ms; REGISTER -> REGISTER: ${periods.join(', ')} ms`);
  t.equal(new Set(r.endpoint.registers().map((w) => header(w.text, 'Call-ID'))).size, 1, 'one Call-ID across retries');
  t.equal((await kamA.contacts('2001')).length, 0, 'not registered');
  await waitFor('the alert', async () => { await r.ctx.store.events.committed; return queryEvents(r.ctx.store, { type: 'trunk_alert' }).length === 1; }, 3_000);
  t.pass('trunk_alert raised after 3 credential failures');

  const fixed = config([{ ...bad, password: 'secret' }], { uaRetryDelayS: 2 });
  const previous = r.ctx.config();
  r.ctx.setConfig(fixed);
  await r.component.reload(fixed, previous);
  await waitFor('registered after reload', () => r.state('bad')?.state === 'registered', 3_000);
  t.equal((await kamA.contacts('2001'))[0]?.address, `sip:2001@127.0.0.1:${r.endpoint.sockets[0]!.port}`, 'Kamailio has the contact');
  await r.stop();
});

t.test('Kamailio stopped: timeout, retries at the fixed delay, re-registers when it is back', async (t) => {
  const r = await run('127.0.0.1:0', [trunk({ name: 'outage', username: '4001', port: KAM_C, domain: '127.0.0.1', expiresS: 'auto' })],
    { uaRetryDelayS: 2, uaDefaultExpiresS: 10 });
  await waitFor('registered', () => r.state('outage')?.state === 'registered', 5_000);
  await kamC.stop();
  const stoppedAt = performance.now();
  await waitFor('a timeout', () => r.state('outage')?.state === 'retry_wait', 45_000);
  const failedAt = performance.now();
  const rec = r.state('outage')!;
  t.equal(rec.lastReason, `no answer: 127.0.0.1:${KAM_C} did not answer within 32 s`);
  t.equal(rec.lastStatus, null);
  t.comment(`timeout ${Math.round(failedAt - stoppedAt)} ms after Kamailio stopped (refresh due at 5 s, Timer F 32 s)`);
  const retransmits = r.endpoint.wire.filter((w) => w.dir === 'out' && w.atMs > stoppedAt).length;
  t.ok(retransmits >= 10, `Timer E retransmitted (${retransmits} sends)`);
  const before = r.endpoint.registers().length;
  await waitFor('the next attempt', () => r.endpoint.registers().length > before, 3_000);
  const gap = Math.round(r.endpoint.registers().at(-1)!.atMs - failedAt);
  t.ok(Math.abs(gap - 2_000) <= 300, `next attempt ${gap} ms after the timeout (RETRY_DELAY 2000)`);
  await kamC.start();
  await waitFor('registered again', () => r.state('outage')?.state === 'registered', 10_000);
  t.equal((await kamC.contacts('4001'))[0]?.address, `sip:4001@127.0.0.1:${r.endpoint.sockets[0]!.port}`, 'back in the (fresh) location table');
  await r.stop();
});

t.test('423 Interval Too Brief is followed by a REGISTER with the server\'s Min-Expires', async (t) => {
  const r = await run('127.0.0.1:0', [trunk({ name: 'brief', username: '5001', port: KAM_A, domain: '127.0.0.1', expiresS: 5 })], {});
  await waitFor('registered', () => r.state('brief')?.state === 'registered', 5_000);
  const wire = r.endpoint.wire.filter((w) => w.text.startsWith('REGISTER') || w.text.startsWith('SIP/2.0'));
  const seq = wire.map((w) => (w.dir === 'out' ? `REGISTER ${header(w.text, 'Expires')}` : `${w.text.slice(8, 11)}${header(w.text, 'Min-Expires') === null ? '' : ` Min-Expires ${header(w.text, 'Min-Expires')}`}`));
  t.same(seq.slice(0, 6), ['REGISTER 5', '401', 'REGISTER 5', '423 Min-Expires 10', 'REGISTER 10', '200']);
  t.equal(r.state('brief')!.grantedExpiresS, 10);
  t.equal((await kamA.contacts('5001')).length, 1);
  await r.stop();
});

t.test('behind NAT: Kamailio\'s received/rport correct the Contact and the stale one is removed', async (t) => {
  // Bound to the wildcard; the "route" says 10.9.9.9 (a private address the registrar cannot reach).
  const r = await run('0.0.0.0:0', [trunk({ name: 'nat', username: '6001', port: KAM_A, domain: '127.0.0.1', expiresS: 600 })], {},
    async () => '10.9.9.9');
  await waitFor('registered', () => r.state('nat')?.state === 'registered', 5_000);
  const regs = r.endpoint.registers();
  const p = r.endpoint.sockets[0]!.port;
  t.equal(header(regs[0]!.text, 'Contact'), `<sip:6001@10.9.9.9:${p}>`);
  t.equal(header(regs.at(-1)!.text, 'Contact'), `<sip:6001@127.0.0.1:${p}>, <sip:6001@10.9.9.9:${p}>;expires=0`);
  const contacts = await kamA.contacts('6001');
  t.same(contacts.map((c) => c.address), [`sip:6001@127.0.0.1:${p}`], 'only the reachable Contact stays');
  t.equal(r.state('nat')!.contact, `sip:6001@127.0.0.1:${p}`);
  await r.ctx.store.events.committed;
  t.match(queryEvents(r.ctx.store, { type: 'trunk_registered' })[0]!.detail, /WARNING behind NAT with a 600 s expiry/);
  await r.stop();
});

t.test('Privacy header on the wire: Ignore absent, Id "id", None "none"', async (t) => {
  const sock = dgram.createSocket('udp4');
  const got: Buffer[] = [];
  sock.on('message', (b) => got.push(b));
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  const sink = sock.address().port;
  const cases = [['ignore', '7001', null], ['id', '7002', 'Privacy: id\r\n'], ['none', '7003', 'Privacy: none\r\n']] as const;
  for (const [privacy, u, line] of cases) {
    const r = await run('127.0.0.1:0', [trunk({ name: privacy, username: u, port: sink })], { uaPrivacy: privacy, uaSendUnregister: false });
    await waitFor(`a REGISTER from ${u}`, () => got.some((b) => b.includes(`sip:${u}@`)), 3_000);
    const bytes = got.find((b) => b.includes(`sip:${u}@`))!;
    if (line === null) t.equal(bytes.indexOf('Privacy'), -1, 'Ignore: no Privacy header in the datagram');
    else t.ok(bytes.includes(Buffer.from(`\r\n${line}`)), `${privacy}: ${JSON.stringify(line)} in the datagram`);
    await r.stop();
  }
  sock.close();
  // And Kamailio reads it as such.
  const k = await run('127.0.0.1:0', [trunk({ name: 'kid', username: '7004', port: KAM_A, domain: '127.0.0.1' })], { uaPrivacy: 'id', uaSendUnregister: false });
  await waitFor('registered', () => k.state('kid')?.state === 'registered', 5_000);
  t.ok(kamA.requests().some((l) => l.includes('privacy=id') && l.includes('sip:7004@')), 'Kamailio saw Privacy: id');
  await k.stop();
});

async function sigtermChild(sendUnregister: boolean, u: string, listen: string): Promise<{ out: string; registeredAt: number }> {
  // The TypeScript loader tap gave this process, and nothing else of tap's.
  const loader = process.execArgv.filter((a) => a.includes('typescript') || a === '--enable-source-maps');
  const dataDir = mkdtempSync(join(tmpdir(), 'sipreg-child-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const child = spawn(process.execPath, [...loader, join(HERE, 'sigterm-child.ts'),
    JSON.stringify({ listen, kamPort: KAM_A, user: u, sendUnregister, dataDir })],
  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(`child ${u} registered`, () => out.includes('REGISTERED'), 20_000).catch((e: unknown) => { child.kill('SIGKILL'); throw new Error(`${String(e)}\n${err}`); });
  const registeredAt = (await kamA.contacts(u)).length;
  child.kill('SIGTERM');
  const code = await exited;
  if (code !== 0) throw new Error(`child exited ${code}: ${err}`);
  return { out, registeredAt };
}

t.test('SIGTERM: SEND_UNREGISTER On removes our contact before exit; Off leaves it', async (t) => {
  const on = await sigtermChild(true, '8001', '127.0.0.1:0');
  t.equal(on.registeredAt, 1, 'On: registered while running');
  t.match(on.out, /STOPPED/);
  t.equal((await kamA.contacts('8001')).length, 0, 'On: gone from Kamailio when the process has exited');
  const off = await sigtermChild(false, '8002', '127.0.0.1:0');
  t.equal(off.registeredAt, 1, 'Off: registered while running');
  t.equal((await kamA.contacts('8002')).length, 1, 'Off: still in Kamailio after exit');
  const expiresWire = kamA.requests().filter((l) => l.includes('sip:8001@') && l.includes('expires=0'));
  t.ok(expiresWire.length >= 1, 'On: Kamailio received REGISTER Expires: 0');
  t.equal(kamA.requests().filter((l) => l.includes('sip:8002@') && l.includes('expires=0')).length, 0, 'Off: no Expires: 0');
});
