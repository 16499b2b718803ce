/**
 * Config pushes that cannot leave the box without phones (issue 18), through the real binary against a
 * running service: `sipreg config apply` of a good file is applied and used (a new account registers);
 * one whose listen address cannot be bound is refused by the service, put back by apply on its own well
 * before the timeout, exit 1 with the reason; both in `config history`; an invalid file refused with
 * check's own lines and nothing changed; `config rollback N`; no running service: nothing changed; the
 * drop-box mode (`--consume`) the appliance's path unit uses.
 */
import t from 'tap';
import { createSocket } from 'node:dgram';
import { lstatSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { freeUdpPort, runSipreg, sipregCommand } from '../helpers/sipreg.js';
import { startService, type Service } from '../e2e/service.js';
import { SipClient } from '../registrar/sipclient.js';

const accounts = (numbers: string[]): string => `accounts:\n${numbers.map((n) => `  - { number: "${n}", auth_mode: ip, allow: ["127.0.0.0/8"] }\n`).join('')}`;

/** The service's config file with another accounts block (and optionally another listen). */
function variant(s: Service, numbers: string[], listen?: string): string {
  let text = readFileSync(s.configFile, 'utf8').replace(/accounts:\n[\s\S]*$/, accounts(numbers));
  if (listen !== undefined) text = text.replace(/listen: \[[^\]]*\]/, `listen: ["${listen}"]`);
  return text;
}

async function status(port: number, user: string): Promise<number> {
  const c = await SipClient.open(port);
  try {
    return (await c.register({ user, expires: 600 })).status;
  } finally {
    c.close();
  }
}

/** `sipreg ARGS` without blocking this process (the service's log pipe keeps draining). */
function sipreg(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string; ms: number }> {
  const { file, prefix } = sipregCommand();
  const started = Date.now();
  const child = spawn(file, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ status: code, stdout, stderr, ms: Date.now() - started })));
}

t.test('config apply, history, rollback against a running service', async (t) => {
  const s = await startService(accounts(['1001']));
  t.teardown(() => s.kill('SIGKILL'));
  const original = readFileSync(s.configFile, 'utf8');
  t.not(await status(s.port, '1002'), 200, '1002 is not an account yet');

  // A good push: applied, confirmed, and the service uses it.
  const good = join(s.dir, 'good.yaml');
  writeFileSync(good, variant(s, ['1001', '1002']));
  let r = await sipreg(['config', 'apply', good, '-c', s.configFile]);
  t.equal(r.status, 0, `applied (${r.stderr})`);
  t.match(r.stdout, /^applied: push 1, the service runs generation \d+ \(sha256 [0-9a-f]{12}\)$/m);
  t.equal(readFileSync(s.configFile, 'utf8'), readFileSync(good, 'utf8'), 'the pushed file is in place');
  t.equal(readFileSync(join(`${s.configFile}.versions`, '1.yaml'), 'utf8'), original, 'the previous file is kept as version 1');
  t.equal(await status(s.port, '1002'), 200, 'the new account registers');

  // A listen address this host does not have (TEST-NET-1): refused by the service, put back at once.
  const pushedBefore = readFileSync(s.configFile, 'utf8');
  const away = join(s.dir, 'away.yaml');
  writeFileSync(away, variant(s, ['1001', '1002', '1003'], '192.0.2.1:5060'));
  r = await sipreg(['config', 'apply', away, '--timeout', '60', '-c', s.configFile]);
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, /^sipreg config: ERR_CLI_PUSH_REFUSED: rolled back: push 2 not applied: the service refused it: sip\.listen 192\.0\.2\.1:5060 cannot be bound: EADDRNOTAVAIL/m, r.stderr);
  t.match(r.stderr, /the previous config is back in force \(generation \d+\)/);
  t.ok(r.ms < 30_000, `seen as refused, not waited out (${r.ms} ms of a 60 s timeout)`);
  t.equal(readFileSync(s.configFile, 'utf8'), pushedBefore, 'the previous file is back');
  t.not(await status(s.port, '1003'), 200, 'the refused push\'s account is not in force');
  t.equal(await status(s.port, '1002'), 200, 'the service still answers on its socket with the previous config');

  // A port another process holds.
  const holder = createSocket('udp4');
  const taken = await freeUdpPort();
  await new Promise<void>((resolve) => holder.bind({ port: taken, address: '127.0.0.1', exclusive: true }, resolve));
  t.teardown(() => holder.close());
  const busy = join(s.dir, 'busy.yaml');
  writeFileSync(busy, variant(s, ['1001', '1002'], `127.0.0.1:${taken}`));
  r = await sipreg(['config', 'apply', busy, '-c', s.configFile]);
  t.equal(r.status, 1, 'exit 1');
  t.match(r.stderr, new RegExp(`rolled back: push 3 not applied: the service refused it: sip\\.listen 127\\.0\\.0\\.1:${taken} cannot be bound: EADDRINUSE`));
  t.equal(readFileSync(s.configFile, 'utf8'), pushedBefore, 'the previous file is back');

  // An invalid file: check's own lines, nothing changed, nothing recorded.
  const invalid = join(s.dir, 'invalid.yaml');
  writeFileSync(invalid, 'sip:\n  listen: 5\nbogus: 1\n');
  const check = runSipreg(['check', '-c', invalid]);
  r = await sipreg(['config', 'apply', invalid, '-c', s.configFile]);
  t.equal(r.status, 1, 'exit 1');
  t.equal(r.stderr, `${check.stderr}sipreg config: ERR_CLI_CONFIG_INVALID: ${invalid}: invalid configuration (2 problems); nothing changed\n`, 'the same lines as sipreg check');
  t.equal(readFileSync(s.configFile, 'utf8'), pushedBefore, 'unchanged');

  r = await sipreg(['config', 'history', '-c', s.configFile]);
  t.equal(r.status, 0);
  const rows = r.stdout.split('\n').filter((l) => /^\s+\d+\s/.test(l));
  t.equal(rows.length, 3, `three pushes listed:\n${r.stdout}`);
  t.match(rows[0], /^\s+1\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+[0-9a-f]{12}\s+[0-9a-f]{12}\s+\d+\s+applied\s+apply .*good\.yaml$/);
  t.match(rows[1], /^\s+2\s.*rolled back\s+apply .*away\.yaml$/);
  t.match(r.stdout, /192\.0\.2\.1:5060 cannot be bound/, 'with the reason');
  t.match(rows[2], /^\s+3\s.*rolled back\s+apply .*busy\.yaml$/);

  // Back to the config before push 1: 1002 is refused again.
  r = await sipreg(['config', 'rollback', '1', '-c', s.configFile]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /^applied: push 4,/m);
  t.equal(readFileSync(s.configFile, 'utf8'), original, 'version 1 is in place');
  t.not(await status(s.port, '1002'), 200, '1002 is gone with it');
  r = await sipreg(['config', 'rollback', '99', '-c', s.configFile]);
  t.equal(r.status, 1);
  t.match(r.stderr, /no kept version 99/);
  r = await sipreg(['config', 'history', '-c', s.configFile]);
  t.match(r.stdout, /^\s+4\s.*applied\s+rollback to 1$/m);

  // No service: nothing can confirm a push, so nothing is changed.
  await s.kill();
  const kept = readdirSync(`${s.configFile}.versions`).length;
  r = await sipreg(['config', 'apply', good, '-c', s.configFile]);
  t.equal(r.status, 1);
  t.match(r.stderr, /^sipreg config: ERR_CLI_PUSH_REFUSED: the service is not running .*the config is unchanged/m);
  t.equal(readFileSync(s.configFile, 'utf8'), original, 'unchanged');
  t.equal(readdirSync(`${s.configFile}.versions`).length, kept, 'no version kept for it');
});

// The appliance's drop-box (sipreg-config-push.path runs `config apply --consume /etc/sipreg/push.yaml`):
// the file is read without following a link and removed, and every outcome is a line of the history,
// since the installer who copied it there sees no terminal.
t.test('config apply --consume: the push drop-box', async (t) => {
  const s = await startService(accounts(['1001']));
  t.teardown(() => s.kill('SIGKILL'));
  const original = readFileSync(s.configFile, 'utf8');
  const drop = join(s.dir, 'push.yaml');
  const consume = (): ReturnType<typeof sipreg> => sipreg(['config', 'apply', '--consume', drop, '-c', s.configFile]);

  let r = await consume();
  t.equal(r.status, 0, 'nothing waiting: exit 0 (the path unit also fires when the file is removed)');
  t.match(r.stdout, /push\.yaml: no push waiting$/m);

  writeFileSync(drop, 'sip:\n  listen: [\n');
  r = await consume();
  t.equal(r.status, 1, 'a broken file: exit 1');
  t.match(r.stderr, /push\.yaml: refused: invalid configuration \(2 problems\): .*push\.yaml:2:11: sip\.listen: .*; nothing changed \(sipreg config history\)/);
  t.throws(() => readFileSync(drop), { code: 'ENOENT' }, 'removed once read, so the next copy lands');
  t.equal(readFileSync(s.configFile, 'utf8'), original, 'the config is unchanged');

  // A link planted there is not followed: the service user would read what admin cannot.
  symlinkSync(s.configFile, drop);
  r = await consume();
  t.equal(r.status, 1, 'a link: exit 1');
  t.match(r.stderr, /refused: cannot read: a symbolic link \(push a regular file\); nothing changed/);
  t.throws(() => lstatSync(drop), { code: 'ENOENT' }, 'the link is removed');

  writeFileSync(drop, variant(s, ['1001', '1002']));
  r = await consume();
  t.equal(r.status, 0, `a good file applied (${r.stderr})`);
  t.match(r.stdout, /^applied: push 3, the service runs generation \d+/m);
  t.equal(await status(s.port, '1002'), 200, 'its account registers');
  t.throws(() => readFileSync(drop), { code: 'ENOENT' }, 'removed');

  // The service stopped: the push waits --timeout for it, then is refused and recorded, nothing changed.
  await s.kill();
  writeFileSync(drop, variant(s, ['1001', '1003']));
  const inForce = readFileSync(s.configFile, 'utf8');
  r = await sipreg(['config', 'apply', '--consume', drop, '--timeout', '2', '-c', s.configFile]);
  t.equal(r.status, 1, 'no service: exit 1');
  t.match(r.stderr, /refused: the service is not running \(no live heartbeat within 2 s\)/);
  t.equal(readFileSync(s.configFile, 'utf8'), inForce, 'the config is unchanged');

  r = await sipreg(['config', 'history', '-c', s.configFile]);
  const rows = r.stdout.split('\n').filter((l) => /^\s+\d+\s/.test(l));
  t.equal(rows.length, 4, `four pushes listed:\n${r.stdout}`);
  t.match(rows[3], /^\s+4\s.*refused\s+push file .*push\.yaml$/);
  t.match(rows[0], /^\s+1\s.*refused\s+push file .*push\.yaml$/);
  t.notMatch(rows[0], /version not kept/, 'a refusal replaced nothing, so nothing was to be kept');
  t.match(r.stdout, /invalid configuration \(2 problems\): .*; nothing changed/, 'with the reason');
  t.match(rows[1], /^\s+2\s.*refused\s+push file .*push\.yaml$/);
  t.match(rows[2], /^\s+3\s.*applied\s+push file .*push\.yaml$/);
});

// A service on the wildcard address covers every address of its port, so binding a pushed address beside
// it always meets EADDRINUSE; an address this host does not have must still be refused (the kernel says
// EADDRNOTAVAIL first), or the next restart leaves the box without phones.
t.test('config apply: a service on 0.0.0.0 still refuses a pushed address the host does not have', async (t) => {
  const s = await startService(accounts(['1001']), { listen: '0.0.0.0' });
  t.teardown(() => s.kill('SIGKILL'));
  const before = readFileSync(s.configFile, 'utf8');
  const away = join(s.dir, 'away.yaml');
  writeFileSync(away, variant(s, ['1001'], `192.0.2.1:${s.port}`));
  let r = await sipreg(['config', 'apply', away, '--timeout', '60', '-c', s.configFile]);
  t.equal(r.status, 1, 'rolled back');
  t.match(r.stderr, new RegExp(`the service refused it: sip\\.listen 192\\.0\\.2\\.1:${s.port} cannot be bound: EADDRNOTAVAIL \\(no such address on this host\\)`), r.stderr);
  t.equal(readFileSync(s.configFile, 'utf8'), before, 'the previous file is back');

  const here = join(s.dir, 'here.yaml');
  writeFileSync(here, variant(s, ['1001'], `127.0.0.1:${s.port}`));
  r = await sipreg(['config', 'apply', here, '-c', s.configFile]);
  t.equal(r.status, 0, `an address of this host on the port our own socket holds is applied (${r.stderr})`);
  t.match(r.stdout, new RegExp(`note: sip\\.listen changes to 127\\.0\\.0\\.1:${s.port} at the service's next restart`));
});
