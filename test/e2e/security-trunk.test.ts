// Issue 13 through `sipreg run`: what a hostile or broken trunk provider (a scripted upstream on
// loopback, test/trunk/upstream.ts) can make the trunk client do, and that an operator command runs
// once however the polls, the store's write lock and a crash fall.
//
// - Absurd grants: `Expires: 3000000`, a Contact `expires=4294967295`, a 423 with `Min-Expires:
//   4294967295`, a 503 with `Retry-After: 4294967295`. Node fires a timer of more than 2^31-1 ms at
//   once, so before the clamp each of the first three REGISTERed in a tight loop.
// - MD5 digest without qop (RFC 2069: no cnonce, no nonce-count, replayable): refused unless the
//   trunk says `allow_md5_without_qop: true`.
// - Operator commands (src/store/commands.ts): taken from the store, committed, before they run. Two
//   service processes on one store serialize on the same write lock as the polls tested here.
import t from 'tap';
import { createHash } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startService, type Service } from './service.js';
import { repoRoot, waitForLine } from '../helpers/sipreg.js';
import { FakeUpstream, type UpstreamRequest } from '../trunk/upstream.js';
import { sleep, until } from '../helpers/wait.js';

interface TrunkRow { name: string; state: string; last_status: number | null; last_reason: string | null; granted_expires_s: number | null; next_action_at: string | null }

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const PASSWORD = 'secret';
const REALM = 'upstream.example';

/** `<sip:...>;expires=N`: the request's own Contact echoed with a grant. */
const contactGrant = (req: UpstreamRequest, expiresS: number): string => `Contact: ${req.contact};expires=${expiresS}`;

/** The RFC 2069 response (no qop): MD5(HA1:nonce:HA2). */
function rfc2069Valid(authorization: string, user: string, nonce: string): boolean {
  const param = (name: string): string => new RegExp(`${name}="([^"]*)"`).exec(authorization)?.[1] ?? '';
  if (/\bqop=|\bnc=|\bcnonce=/.test(authorization)) return false;
  const ha1 = md5(`${user}:${REALM}:${PASSWORD}`);
  const ha2 = md5(`REGISTER:${param('uri')}`);
  return param('nonce') === nonce && param('response') === md5(`${ha1}:${nonce}:${ha2}`);
}

const upstream = await FakeUpstream.open((req, mine) => {
  switch (req.user) {
    case 'grant-header':
      return { status: 200, phrase: 'OK', headers: ['Expires: 3000000'] };
    case 'grant-contact':
      return { status: 200, phrase: 'OK', headers: [contactGrant(req, 4294967295), 'Expires: 3000000'] };
    case 'min-expires':
      // RFC 3261 §10.2.8: ask again with at least Min-Expires; then it is granted as asked.
      if ((req.expires ?? 0) < 4294967295) return { status: 423, phrase: 'Interval Too Brief', headers: ['Min-Expires: 4294967295'] };
      return { status: 200, phrase: 'OK', headers: [contactGrant(req, req.expires!)] };
    case 'retry-after':
      return { status: 503, phrase: 'Service Unavailable', headers: ['Retry-After: 4294967295'] };
    case 'noqop':
    case 'noqop-allowed': {
      const nonce = `n-${req.user}`;
      if (req.authorization !== null && rfc2069Valid(req.authorization, req.user, nonce)) return { status: 200, phrase: 'OK', headers: [contactGrant(req, 3600)] };
      return { status: 401, phrase: 'Unauthorized', headers: [`WWW-Authenticate: Digest realm="${REALM}", nonce="${nonce}", algorithm=MD5`] };
    }
    case 'cmd':
      return { status: 200, phrase: 'OK', headers: [contactGrant(req, 3600)] };
    default:
      return mine.length > 0 ? { status: 404, phrase: 'Not Found' } : null;
  }
});
t.teardown(() => upstream.close());

const trunkLine = (user: string, extra = ''): string =>
  `  - { name: ${user}, registrar: "127.0.0.1", port: ${upstream.port}, username: "${user}", password: "${PASSWORD}"${extra} }`;

function rows(svc: Service): TrunkRow[] {
  const r = svc.cli(['trunks', '--json']);
  if (r.status !== 0) throw new Error(`sipreg trunks: ${r.stderr}`);
  return JSON.parse(r.stdout) as TrunkRow[];
}
const row = (svc: Service, name: string): TrunkRow => {
  const found = rows(svc).find((x) => x.name === name);
  if (found === undefined) throw new Error(`no trunk ${name}`);
  return found;
};

t.test('absurd grants, Min-Expires and Retry-After: one or two REGISTERs, not a storm', async (t) => {
  const users = ['grant-header', 'grant-contact', 'min-expires', 'retry-after'];
  const svc = await startService(['params:', '  SS_SIP_USER_AGENT_EXPIRE: Auto', 'trunks:', ...users.map((u) => trunkLine(u)), ''].join('\n'));
  t.teardown(() => svc.kill('SIGTERM'));
  // Every trunk starts within the 2 s start-up spread; then a few seconds in which a storm would show.
  await until('every trunk answered', () => users.every((u) => upstream.registers(u).length > 0), 15_000);
  await sleep(4_000);
  const counts = Object.fromEntries(users.map((u) => [u, upstream.registers(u).length]));
  t.same(counts, { 'grant-header': 1, 'grant-contact': 1, 'min-expires': 2, 'retry-after': 1 },
    'REGISTER transactions each upstream saw in ~5 s (a storm is thousands)');
  t.equal(upstream.registers('min-expires')[1]?.expires, 4294967295, 'the 423 is followed: the second REGISTER asks its Min-Expires');

  const now = Date.now();
  for (const u of ['grant-header', 'grant-contact', 'min-expires']) {
    const r = row(svc, u);
    t.equal(r.state, 'registered', `${u} registered`);
    const nextS = (Date.parse(r.next_action_at ?? '') - now) / 1000;
    t.ok(nextS > 3_600 && nextS <= 86_400, `${u}: the refresh is planned within a day (in ${Math.round(nextS)} s), not at once`);
  }
  t.equal(row(svc, 'grant-header').granted_expires_s, 3000000, 'the grant is shown as the upstream gave it');
  t.match(row(svc, 'grant-header').last_reason, /refresh/i, 'last_reason says the refresh is planned earlier than the grant');
  const retry = row(svc, 'retry-after');
  t.equal(retry.state, 'retry_wait');
  const retryS = (Date.parse(retry.next_action_at ?? '') - now) / 1000;
  t.ok(retryS > 60 && retryS <= 3_600, `Retry-After honoured up to an hour (retry in ${Math.round(retryS)} s)`);
});

t.test('MD5 digest without qop is refused unless the trunk allows it', async (t) => {
  const svc = await startService(['trunks:', trunkLine('noqop'), trunkLine('noqop-allowed', ', allow_md5_without_qop: true'), ''].join('\n'));
  t.teardown(() => svc.kill('SIGTERM'));
  await until('noqop-allowed registered', () => rows(svc).find((r) => r.name === 'noqop-allowed')?.state === 'registered', 15_000);
  await until('noqop failed', () => ['failed', 'retry_wait'].includes(row(svc, 'noqop').state), 15_000);

  const refused = row(svc, 'noqop');
  t.equal(refused.state, 'retry_wait', 'the refusing trunk waits for its retry');
  t.equal(refused.last_status, 401);
  t.match(refused.last_reason, /without qop/, `last_reason: ${refused.last_reason}`);
  t.match(refused.last_reason, /allow_md5_without_qop/, 'last_reason names the key that would allow it');
  t.same(upstream.registers('noqop').map((r) => r.authorization), [null], 'one REGISTER, no credentials ever sent to that challenge');
  t.match(svc.cli(['trunks']).stdout, /noqop .*retry_wait/, 'the plain table shows the state');

  const allowed = upstream.registers('noqop-allowed');
  t.equal(allowed.length, 2, 'allowed: the challenge is answered once');
  t.ok(allowed[1]!.authorization !== null && rfc2069Valid(allowed[1]!.authorization, 'noqop-allowed', 'n-noqop-allowed'), 'with a valid RFC 2069 response');
});

/**
 * A child process that queues one operator command in the store and then holds LMDB's write lock
 * until `release` exists: every other writer (the service taking the command) waits meanwhile, as it
 * would behind a stalled disk or another process's long transaction. Resolves once the lock is held.
 */
async function holdStoreLock(dataDir: string, release: string, command: { type: string; arg: string }): Promise<ChildProcess> {
  const script = `
    import { open } from 'lmdb';
    import { existsSync, writeSync } from 'node:fs';
    const [dataDir, release, type, arg] = process.argv.slice(1);
    const root = open({ path: dataDir, maxDbs: 16, compression: false });
    const commands = root.openDB({ name: 'commands' });
    const meta = root.openDB({ name: 'meta' });
    const atMs = Date.now();
    root.transactionSync(() => {
      commands.putSync([atMs, process.pid, 1], { atMs, type, arg });
    });
    const end = Date.now() + 30000;
    root.transactionSync(() => {
      meta.putSync('test_lock_holder', process.pid);
      writeSync(1, 'held\\n');
      const cell = new Int32Array(new SharedArrayBuffer(4));
      while (!existsSync(release) && Date.now() < end) Atomics.wait(cell, 0, 0, 20);
    });
    writeSync(1, 'released\\n');
    await root.close();
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dataDir, release, command.type, command.arg],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  await waitForLine(child, (l) => l === 'held', 10_000);
  return child;
}

const operatorRuns = (svc: Service): number => svc.log.join('').split('\n').filter((l) => l.includes('trunk re-register requested by the operator')).length;

t.test('an operator command runs once: polls while its removal cannot commit, and a crash before it did', async (t) => {
  const svc = await startService(['trunks:', trunkLine('cmd'), ''].join('\n'));
  t.teardown(() => svc.kill('SIGTERM'));
  await until('cmd registered', () => rows(svc).find((r) => r.name === 'cmd')?.state === 'registered', 15_000);
  const before = upstream.registers('cmd').length;

  // Three polls (one a second) see the command while the store is locked; it runs once, after.
  const release1 = join(svc.dir, 'release-1');
  const holder1 = await holdStoreLock(svc.dataDir, release1, { type: 'trunk_reregister', arg: 'cmd' });
  await sleep(3_500);
  writeFileSync(release1, '');
  await waitForLine(holder1, (l) => l === 'released');
  await until('the re-register answered', () => upstream.registers('cmd').length > before, 15_000);
  await sleep(2_500);
  t.equal(operatorRuns(svc), 1, 'the service ran the re-register once');
  t.equal(upstream.registers('cmd').length - before, 1, 'the upstream saw one REGISTER for it');

  // A crash while the store is locked: whatever the service did then, after the restart the command
  // has run once in all.
  const runsBefore = operatorRuns(svc);
  const release2 = join(svc.dir, 'release-2');
  const holder2 = await holdStoreLock(svc.dataDir, release2, { type: 'trunk_reregister', arg: 'cmd' });
  await sleep(2_500);
  const runsBeforeCrash = operatorRuns(svc) - runsBefore;
  svc.child.kill('SIGKILL');
  await new Promise((r) => svc.child.once('exit', r));
  writeFileSync(release2, '');
  await waitForLine(holder2, (l) => l === 'released');
  svc.log.length = 0;
  await svc.restart();
  await sleep(3_000);
  t.equal(runsBeforeCrash + operatorRuns(svc), 1, `run once across the crash (${runsBeforeCrash} before, ${operatorRuns(svc)} after the restart)`);
});
