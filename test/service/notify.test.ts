/**
 * sd_notify for Type=notify + WatchdogSec= (systemd/sipreg.service): what a service manager listening
 * on $NOTIFY_SOCKET receives from the real binary. The manager is a unix datagram listener (python3)
 * that prints each message; the messages go through the host's real `systemd-notify`.
 */
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSipreg, sipregCommand, writeConfig, freeUdpPort, waitForLine, exitOf, tmpDir } from '../helpers/sipreg.js';
import { serviceNotifier, watchdogIntervalMs } from '../../src/service/notify.js';
import { sleep, until as waitUntil } from '../helpers/wait.js';

const config = (port: number): string => `
sip:
  listen: ["127.0.0.1:${port}"]
  realm: "test"
data_dir: "@DATA@"
log_level: info
`;

const LISTENER = `
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    for line in s.recv(4096).decode().splitlines():
        if line != "BARRIER=1":
            print(line, flush=True)
`;

interface Manager { readonly socket: string; readonly child: ChildProcess; readonly messages: { text: string; atMs: number }[] }

async function fakeManager(t: { teardown(fn: () => void): void }): Promise<Manager> {
  const socket = join(tmpDir('sipreg-notify-'), 'notify.sock');
  const child = spawn('python3', ['-c', LISTENER, socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  const messages: { text: string; atMs: number }[] = [];
  await waitForLine(child, (line) => line === 'listening', 30_000);
  child.stdout?.on('data', (c: Buffer) => {
    for (const text of c.toString().split('\n')) if (text !== '' && text !== 'listening') messages.push({ text, atMs: Date.now() });
  });
  return { socket, child, messages };
}

/** Polls every 20 ms, 20 s unless told (test/helpers/wait.ts). */
function until(what: string, cond: () => boolean, timeoutMs = 20_000): Promise<true> {
  return waitUntil(what, cond, timeoutMs, { everyMs: 20 });
}

async function optionsAnswered(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  try {
    await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
    const me = s.address().port;
    const req = `OPTIONS sip:127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK-notify1\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:probe@127.0.0.1>;tag=n1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: notify-probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    const answer = new Promise<boolean>((resolve) => {
      s.once('message', (m) => resolve(m.toString().startsWith('SIP/2.0 ')));
      const h = setTimeout(() => resolve(false), 2_000);
      void h;
    });
    s.send(req, port, '127.0.0.1');
    return await answer;
  } finally {
    s.close();
  }
}

t.test('the watchdog interval is half of WATCHDOG_USEC, for this process only', async (t) => {
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000' }), 15_000);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: String(process.pid) }), 15_000);
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' }), null, 'meant for another process');
  t.equal(watchdogIntervalMs({}), null, 'no watchdog asked for');
  t.equal(watchdogIntervalMs({ WATCHDOG_USEC: 'soon' }), null);
});

t.test('without NOTIFY_SOCKET nothing is spawned; with it, one command per message, in order', async (t) => {
  const dir = tmpDir();
  const marker = join(dir, 'sent');
  const command = join(dir, 'notify');
  writeFileSync(command, `#!/bin/sh\n[ "$1" = --no-block ] && shift\necho "$NOTIFY_SOCKET $*" >>'${marker}'\n`, { mode: 0o755 });
  const off = serviceNotifier({ env: { WATCHDOG_USEC: '2000' }, command });
  t.equal(off.enabled, false);
  t.equal(off.watchdogIntervalMs, null);
  off.ready(); off.reloading(); off.stopping(); off.close();
  await sleep(300);
  t.notOk(existsSync(marker), 'no command run');

  const on = serviceNotifier({ env: { NOTIFY_SOCKET: '/run/x.sock' }, command });
  t.equal(on.enabled, true);
  const lines = (): number => (existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').length - 1 : 0);
  on.ready(); on.reloading(); on.ready();
  await until('three messages', () => lines() === 3, 5_000);
  on.stopping();
  on.ready(); // after STOPPING=1: dropped
  on.close();
  await until('four messages', () => lines() === 4, 5_000);
  await sleep(300);
  t.equal(readFileSync(marker, 'utf8'), '/run/x.sock READY=1\n/run/x.sock RELOADING=1\n/run/x.sock READY=1\n/run/x.sock STOPPING=1\n');
});

t.test('starting: the start timeout stretched from the loop for a bounded time, no watchdog ping before READY=1', async (t) => {
  const dir = tmpDir();
  const marker = join(dir, 'sent');
  const command = join(dir, 'notify');
  // Messages come with --no-block (see notify.ts): recorded without it.
  writeFileSync(command, `#!/bin/sh\n[ "$1" = --no-block ] && shift\necho "$PPID|$*" >>'${marker}'\n`, { mode: 0o755 });
  const records = (): string[][] => (existsSync(marker) ? readFileSync(marker, 'utf8').split('\n').filter((l) => l !== '').map((l) => l.split('|')) : []);
  const sent = (): string[] => records().map((r) => r[1]!);
  // A 200 ms watchdog (a ping every 100 ms once ready); an extension of 600 ms every 100 ms, for 1 s at most.
  const n = serviceNotifier({ env: { NOTIFY_SOCKET: '/run/x.sock', WATCHDOG_USEC: '200000' }, command,
    startExtend: { everyMs: 100, extendMs: 600, totalMs: 1_000 } });
  t.teardown(() => n.close());
  await sleep(1_500);
  const starting = sent();
  t.notOk(starting.includes('WATCHDOG=1'), `no watchdog ping while starting (sent: ${JSON.stringify(starting)})`);
  t.ok(starting.length >= 2 && starting.every((m) => m === 'EXTEND_TIMEOUT_USEC=600000'), 'the start timeout stretched while the loop runs');
  t.ok(starting.length <= 5, `and not beyond the total (${starting.length} extensions in 1.5 s, at most 4 fit in 1 s)`);
  n.ready();
  await until('pings after READY=1', () => sent().slice(starting.length).filter((m) => m === 'WATCHDOG=1').length >= 2, 5_000);
  const after = sent().slice(starting.length);
  t.equal(after[0], 'READY=1 WATCHDOG=1', 'READY=1 carries the first ping');
  t.notOk(after.some((m) => m.startsWith('EXTEND_TIMEOUT_USEC=')), 'no extension once ready');
  // The notifier's own process is not forked for a message: they come from its helper.
  const parents = new Set(records().map((r) => r[0]));
  t.notOk(parents.has(String(process.pid)), `no message sent by a child of the service itself (parents: ${[...parents].join(' ')})`);
});

t.test('READY once SIP answers, watchdog pings from the loop (none while it is stopped), RELOADING/READY on SIGHUP with the watchdog stretched, STOPPING on SIGTERM', async (t) => {
  const manager = await fakeManager(t);
  const port = await freeUdpPort();
  const file = writeConfig(config(port));
  // 600 ms watchdog: a ping every 300 ms.
  const child = spawnSipreg(['run', '-c', file], { NOTIFY_SOCKET: manager.socket, WATCHDOG_USEC: '600000' });
  t.teardown(() => { child.kill('SIGCONT'); child.kill('SIGKILL'); });
  const texts = (): string[] => manager.messages.map((m) => m.text);

  await until('READY=1', () => texts().includes('READY=1'));
  t.ok(await optionsAnswered(port), 'the SIP socket answers when READY=1 has been sent');
  const first = texts().indexOf('READY=1');
  t.same(texts().slice(0, first).filter((m) => !m.startsWith('EXTEND_TIMEOUT_USEC=')), [], 'READY=1 is the first state sent, no watchdog ping before it');

  await until('watchdog pings', () => texts().filter((m) => m === 'WATCHDOG=1').length >= 3);
  // A stopped loop sends nothing: the last ping may be on its way, none after.
  child.kill('SIGSTOP');
  await sleep(400);
  const stoppedAt = Date.now();
  await sleep(1_500);
  const duringStop = manager.messages.filter((m) => m.atMs > stoppedAt && m.atMs < Date.now()).length;
  child.kill('SIGCONT');
  t.equal(duringStop, 0, 'no ping while the process is stopped');
  const resumedAt = Date.now();
  await until('pings after SIGCONT', () => manager.messages.some((m) => m.atMs > resumedAt && m.text === 'WATCHDOG=1'));
  const gaps = manager.messages.filter((m) => m.text === 'WATCHDOG=1' && m.atMs > resumedAt);
  t.ok(gaps.length >= 1, 'the pings resume');

  const beforeHup = manager.messages.length;
  child.kill('SIGHUP');
  await waitForLine(child, (line) => line.includes('"msg":"config reloaded"'));
  await until('READY=1 after the reload', () => manager.messages.slice(beforeHup).some((m) => m.text === 'READY=1'));
  // The reload reads the config on the loop: the watchdog is stretched for it (sent, and handled by the
  // manager, before the file is read) and put back to the unit's own interval with READY=1.
  t.same(manager.messages.slice(beforeHup).map((m) => m.text).filter((m) => m !== 'WATCHDOG=1'),
    ['RELOADING=1', 'WATCHDOG_USEC=300000000', 'READY=1', 'WATCHDOG_USEC=600000'],
    'RELOADING=1 with the watchdog stretched to 300 s, then READY=1 with its own 600 ms back, in that order');

  const beforeStop = manager.messages.length;
  child.kill('SIGTERM');
  const { code } = await exitOf(child);
  t.equal(code, 0);
  await until('STOPPING=1', () => manager.messages.slice(beforeStop).some((m) => m.text === 'STOPPING=1'), 5_000);
  await sleep(700);
  const afterStopping = manager.messages.slice(beforeStop);
  const at = afterStopping.findIndex((m) => m.text === 'STOPPING=1');
  // STOPPING=1 goes at once, not behind a ping already on its way (the process may exit right after), so
  // that one ping may still land after it; pings that kept coming (one every 300 ms) would be two or more.
  const late = afterStopping.slice(at + 1).map((m) => m.text);
  t.ok(late.length <= 1 && late.every((m) => m === 'WATCHDOG=1'), `no ping sent after STOPPING=1 (arrived after it: ${JSON.stringify(late)})`);
});

t.test('a loop that was blocked says so: a warning with how long, once it runs again', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(config(port));
  const child = spawnSipreg(['run', '-c', file]);
  t.teardown(() => { child.kill('SIGCONT'); child.kill('SIGKILL'); });
  await waitForLine(child, (line) => line.includes('"msg":"sipreg started"'));
  await sleep(1_500);
  child.kill('SIGSTOP');
  await sleep(3_000);
  child.kill('SIGCONT');
  const line = await waitForLine(child, (l) => l.includes('event loop blocked'), 10_000);
  const rec = JSON.parse(line) as { level: number; blockedMs: number; msg: string };
  t.equal(rec.level, 40, 'a warning');
  t.ok(rec.blockedMs >= 2_000 && rec.blockedMs < 10_000, `blocked ${rec.blockedMs} ms (stopped 3 s)`);
  t.match(rec.msg, /^event loop blocked for \d+\.\d s$/);
  child.kill('SIGTERM');
  t.equal((await exitOf(child)).code, 0);
});

// A manager that reads the sender's credentials and looks the sender up only `delay` seconds later, as
// a busy systemd does (it finds the unit from /proc/PID/cgroup of the sender).
const SLOW_MANAGER = `
import os, socket, struct, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print("listening", flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(64))
    pid = None
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
            pid = struct.unpack("iII", payload[:12])[0]
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            for fd in struct.unpack("%di" % (len(payload) // 4), payload[:len(payload) - len(payload) % 4]):
                os.close(fd)
    lines = [l for l in data.decode().splitlines() if l != "BARRIER=1"]
    if not lines:
        continue
    time.sleep(float(sys.argv[2]))
    try:
        with open("/proc/%d/cgroup" % pid) as f:
            found = f.read().strip() != ""
    except OSError:
        found = False
    print("%s %s" % (",".join(lines), "attributable" if found else "gone"), flush=True)
`;

t.test('a watchdog ping still names its sender when the manager reads it 7 s late (systemd-notify gives up after 5 s)', async (t) => {
  // As on the box: the service unprivileged, so systemd-notify cannot name its parent as the sender
  // (it does as root) and the kernel names systemd-notify itself.
  const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  const nogroup = Number(spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' }).stdout.trim());
  if (process.getuid?.() !== 0 || !Number.isInteger(nobody)) { t.pass('skipped: needs root to run the service as nobody'); return; }
  const dir = tmpDir('sipreg-notify-slow-');
  chmodSync(dir, 0o777);
  const socket = join(dir, 'notify.sock');
  const manager = spawn('python3', ['-c', SLOW_MANAGER, socket, '7'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { manager.kill('SIGKILL'); });
  await waitForLine(manager, (line) => line === 'listening', 30_000);
  chmodSync(socket, 0o666);
  const seen: string[] = [];
  manager.stdout?.on('data', (c: Buffer) => { for (const l of c.toString().split('\n')) if (l !== '' && l !== 'listening') seen.push(l); });
  const port = await freeUdpPort();
  const file = writeConfig(config(port), dir);
  chmodSync(file, 0o644);
  const { file: bin, prefix } = sipregCommand();
  // A 20 s watchdog: READY=1 with the first ping, the next 10 s later.
  const child = spawn(bin, [...prefix, 'run', '-c', file], {
    uid: nobody, gid: nogroup, stdio: ['ignore', 'ignore', 'ignore'],
    env: { PATH: process.env['PATH'], NOTIFY_SOCKET: socket, WATCHDOG_USEC: '20000000', HOME: dir },
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  await until('a ping judged', () => seen.some((l) => l.startsWith('WATCHDOG=1 ')), 60_000);
  t.equal(seen.find((l) => l.startsWith('WATCHDOG=1 ')), 'WATCHDOG=1 attributable', `its sender is still there to be found (${seen.join('; ')})`);
  child.kill('SIGTERM');
  await exitOf(child);
});
