/**
 * Telling systemd how the service is (sd_notify, `Type=notify` + `WatchdogSec=` in sipreg.service):
 * READY=1 once the sockets are bound and the store is open, WATCHDOG=1 from the event loop at half the
 * interval systemd gives in $WATCHDOG_USEC (a blocked or stopped loop stops them, and systemd restarts
 * the service), RELOADING=1 / READY=1 around a SIGHUP reload, STOPPING=1 on shutdown.
 *
 * No WATCHDOG=1 before READY=1: systemd arms the watchdog on the first ping whatever the state, so a
 * ping sent while starting would hold the start (the store opened, 10,000 bindings loaded: minutes on
 * a small box under load) to WatchdogSec. While starting, the loop sends EXTEND_TIMEOUT_USEC= instead
 * (serviceLimits.startExtend*): TimeoutStartSec= is stretched as long as the start makes progress (a
 * start blocked in one step stops the extensions and times out), and never beyond
 * serviceLimits.startExtendTotalMs. A reload reads
 * the whole config on the event loop (10,000 accounts: seconds on a small ARM box, longer under load), so
 * RELOADING=1 also stretches the watchdog to serviceLimits.reloadWatchdogMs (WATCHDOG_USEC=, systemd >=
 * 236) and the reload waits until systemd has that; READY=1 after it puts the unit's own interval back.
 *
 * Node cannot send the AF_UNIX datagram itself (node:dgram is UDP only), so each message is one run of
 * `systemd-notify VAR=VALUE` (the unit needs `NotifyAccess=all`: the sender is that child, not the main
 * PID), started by one long-lived `/bin/sh` helper that reads the messages as lines from a pipe: the loop
 * writes a line instead of forking the whole service for every ping. systemd finds the unit from the
 * sender's cgroup, so the sender must still exist when systemd reads the message: each one is kept a
 * zombie for 30 s (HELPER_SCRIPT), where systemd-notify's own wait gave up after 5 s; the helper sends
 * them in order (RELOADING before READY). With $NOTIFY_SOCKET unset (not under systemd) nothing is sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { boundedInterval, boundedTimeout } from '../timers.js';
import { serviceLimits } from '../limits.js';
import type { Logger } from '../log.js';

export interface ServiceNotifier {
  /** True when there is a service manager to tell ($NOTIFY_SOCKET set). */
  readonly enabled: boolean;
  /** The watchdog ping interval in ms (half of $WATCHDOG_USEC), or null when no watchdog is asked for. */
  readonly watchdogIntervalMs: number | null;
  ready(): void;
  /** Resolves once systemd has the message (or after serviceLimits.notifyWaitMs): a blocking reload may start. */
  reloading(): Promise<void>;
  stopping(): void;
  /** Stops the watchdog pings and start extensions (messages already queued are still sent). */
  close(): void;
}

export interface NotifierOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** The program that sends one message per run (tests point it elsewhere). */
  readonly command?: string;
  readonly log?: Logger;
  /** The start extensions' timing (tests shorten it); serviceLimits' by default. */
  readonly startExtend?: { readonly everyMs: number; readonly extendMs: number; readonly totalMs: number };
}

/**
 * Reads lines "KIND MESSAGE" and sends each MESSAGE with "$0" (the notify command) --no-block, from a
 * process kept a zombie for 30 s by a parent that execs `sleep` and never reaps it; writes a status line
 * for each ("0"; "missing" once, and exits, when there is no such command). systemd finds the unit of a
 * notify message from its sender's cgroup, which a zombie keeps (Linux >= 5.2): a busy systemd (a
 * 256 MiB box short of memory, logins being set up) took longer than systemd-notify's own 5 s wait for
 * it, the sender was gone, and the message was dropped ("Cannot find unit for notify message of PID
 * ..."). KIND S (a state: READY, RELOADING) waits 1 s before its status, so the next one is sent after it.
 */
const HELPER_SCRIPT = 'set -f; command -v "$0" >/dev/null || { echo missing; exit 1; }; while read -r kind m; do ' +
  '( "$0" --no-block $m & exec sleep 30 ) </dev/null >/dev/null 2>&1 & ' +
  'if [ "$kind" = S ]; then sleep 1; fi; echo 0; done';

/** What the loop sends on a timer: one waiting in the queue makes another redundant. */
const PERIODIC = /^(WATCHDOG=1|EXTEND_TIMEOUT_USEC=\d+)$/;

/** The watchdog interval systemd asks for, halved; null when none is asked for this process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | null {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  const forPid = env['WATCHDOG_PID'];
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** Stretches the start timeout from now on, and pings the watchdog (when asked for) from READY=1; READY, RELOADING and
 *  STOPPING are the caller's. */
export function serviceNotifier(opts: NotifierOptions = {}): ServiceNotifier {
  const env = opts.env ?? process.env;
  const socket = env['NOTIFY_SOCKET'];
  if (socket === undefined || socket === '') {
    return { enabled: false, watchdogIntervalMs: null, ready() {}, reloading: () => Promise.resolve(), stopping() {}, close() {} };
  }
  const command = opts.command ?? 'systemd-notify';
  const childEnv = { PATH: env['PATH'] ?? '/usr/bin:/bin', NOTIFY_SOCKET: socket };
  let stopped = false;
  let warned = false;
  const problem = (message: string[], text: string): void => {
    if (warned) return;
    warned = true;
    opts.log?.warn({ command, message: message.join(' '), problem: text }, 'cannot notify systemd');
  };
  // STOPPING=1 goes in a child of its own, at once.
  const runOnce = (message: string[]): void => {
    const child = spawn(command, message, { stdio: 'ignore', env: childEnv });
    child.unref();
    child.once('error', (err) => problem(message, err.message));
    child.once('exit', (code, signal) => { if (code !== 0) problem(message, `exit ${code ?? signal}`); });
  };
  // Everything else through one long-lived shell (NotifyHelper).
  const helper = new NotifyHelper(command, childEnv, problem);
  const send = (message: string[], sent?: () => void): void => {
    if (stopped) { sent?.(); return; }
    helper.send(message, sent);
  };
  const interval = watchdogIntervalMs(env);
  const ownUsec = interval === null ? null : String(env['WATCHDOG_USEC']);
  // Starting: the start timeout stretched from the loop, for at most startExtendTotalMs.
  const startExtend = opts.startExtend ??
    { everyMs: serviceLimits.startExtendEveryMs, extendMs: serviceLimits.startExtendMs, totalMs: serviceLimits.startExtendTotalMs };
  const startedAtMs = Date.now();
  let extend: NodeJS.Timeout | null = boundedInterval(() => {
    if (Date.now() - startedAtMs + startExtend.extendMs > startExtend.totalMs) stopExtending();
    else send([`EXTEND_TIMEOUT_USEC=${startExtend.extendMs * 1000}`]);
  }, startExtend.everyMs);
  extend.unref();
  const stopExtending = (): void => {
    if (extend !== null) clearInterval(extend);
    extend = null;
  };
  let ping: NodeJS.Timeout | null = null;
  let stretched = false;
  return {
    enabled: true,
    watchdogIntervalMs: interval,
    ready: () => {
      if (stopped) return;
      stopExtending();
      if (stretched && ownUsec !== null) send(['READY=1', 'WATCHDOG=1', `WATCHDOG_USEC=${ownUsec}`]);
      else send(interval === null ? ['READY=1'] : ['READY=1', 'WATCHDOG=1']);
      stretched = false;
      if (interval !== null && ping === null) {
        ping = boundedInterval(() => send(['WATCHDOG=1']), interval);
        ping.unref();
      }
    },
    reloading: () => new Promise<void>((resolve) => {
      const wait = boundedTimeout(resolve, serviceLimits.notifyWaitMs);
      const sent = (): void => { clearTimeout(wait); resolve(); };
      if (ownUsec === null) { send(['RELOADING=1'], sent); return; }
      stretched = true;
      send(['RELOADING=1', 'WATCHDOG=1', `WATCHDOG_USEC=${serviceLimits.reloadWatchdogMs * 1000}`], sent);
    }),
    // At once, not behind a ping on its way: the process may exit right after. Nothing is sent after it.
    stopping: () => {
      if (stopped) return;
      stopped = true;
      stopExtending();
      if (ping !== null) clearInterval(ping);
      runOnce(['STOPPING=1']);
      // What it has not read yet is dropped; the one it is running may still land.
      helper.kill();
    },
    close: () => { stopExtending(); if (ping !== null) clearInterval(ping); helper.end(); },
  };
}

/**
 * One long-lived shell that sends each line it reads (HELPER_SCRIPT) and answers with a status line: the
 * loop writes a line. Spawning from the service itself (~100 MiB) for every ping took ~7 ms of a fast
 * host's loop, far more on a small box short of memory. Started on the first message, again after it died.
 */
class NotifyHelper {
  private child: ChildProcess | null = null;
  /** Written to the helper, not answered yet (the first is the one it is sending). */
  private readonly pending: { message: string[]; sent?: () => void }[] = [];

  constructor(private readonly command: string, private readonly env: NodeJS.ProcessEnv,
    private readonly problem: (message: string[], text: string) => void) {}

  send(message: string[], sent?: () => void): void {
    const periodic = message.length === 1 && PERIODIC.test(message[0]!);
    // A periodic message waiting behind the one being sent says the same: the loop was alive.
    if (periodic && this.pending.slice(1).some((q) => q.message.length === 1 && q.message[0] === message[0])) return;
    const child = this.child ?? this.start();
    this.pending.push(sent === undefined ? { message } : { message, sent });
    child.stdin!.write(`${periodic ? 'P' : 'S'} ${message.join(' ')}\n`);
  }

  /** No more messages: the helper ends once it has read the ones written. */
  end(): void { this.child?.stdin!.end(); }

  /** At once: what it has not read is dropped, every waiter released. */
  kill(): void {
    for (const item of this.pending.splice(0)) item.sent?.();
    this.child?.kill();
  }

  private start(): ChildProcess {
    const child = spawn('/bin/sh', ['-c', HELPER_SCRIPT, this.command], { stdio: ['pipe', 'pipe', 'ignore'], env: this.env });
    this.child = child;
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      partial += chunk;
      for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
        const status = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        const item = this.pending.shift();
        if (item === undefined) continue;
        if (status !== '0') this.problem(item.message, status === 'missing' ? 'no such command' : `exit ${status}`);
        item.sent?.();
      }
    });
    const gone = (why: string): void => {
      if (this.child !== child) return;
      this.child = null;   // the next message starts another
      for (const item of this.pending.splice(0)) { this.problem(item.message, why); item.sent?.(); }
    };
    child.once('error', (err) => gone(err.message));
    child.once('exit', (code, signal) => gone(`notify helper exited (${code ?? signal})`));
    child.stdin!.on('error', () => {});   // EPIPE when it died: its 'exit' says so
    // Neither the helper nor its pipes keep the service's loop alive.
    (child.stdin as Socket).unref();
    (child.stdout as Socket).unref();
    child.unref();
    return child;
  }
}
