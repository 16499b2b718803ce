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
 * Node cannot send the AF_UNIX datagram itself (node:dgram is UDP only), so each message is one
 * `systemd-notify VAR=VALUE` (the unit needs `NotifyAccess=all`: the sender is that child, not the main
 * PID). systemd-notify waits (sd_notify_barrier) until systemd has handled the message, so the child is
 * still alive when systemd looks up its cgroup to find the unit; one child at a time keeps the messages
 * in order (RELOADING before READY). With $NOTIFY_SOCKET unset (not under systemd) nothing is sent.
 */
import { spawn } from 'node:child_process';
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
  const queue: { message: string[]; sent?: () => void }[] = [];
  let sending = false;
  let stopped = false;
  let warned = false;
  const run = (message: string[], then: () => void): void => {
    const child = spawn(command, message, { stdio: 'ignore', env: childEnv });
    child.unref();
    let done = false;
    const finish = (problem: string | null): void => {
      if (done) return;
      done = true;
      if (problem !== null && !warned) {
        warned = true;
        opts.log?.warn({ command, message: message.join(' '), problem }, 'cannot notify systemd');
      }
      then();
    };
    child.once('error', (err) => finish(err.message));
    child.once('exit', (code, signal) => finish(code === 0 ? null : `exit ${code ?? signal}`));
  };
  const next = (): void => {
    const item = queue.shift();
    if (item === undefined) { sending = false; return; }
    sending = true;
    run(item.message, () => { item.sent?.(); next(); });
  };
  const send = (message: string[], sent?: () => void): void => {
    if (stopped) { sent?.(); return; }
    // A periodic message already waiting says the same: the loop was alive.
    if (message.length === 1 && PERIODIC.test(message[0]!) && queue.some((q) => q.message.length === 1 && q.message[0] === message[0])) return;
    queue.push(sent === undefined ? { message } : { message, sent });
    if (!sending) next();
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
      for (const item of queue.splice(0)) item.sent?.();
      run(['STOPPING=1'], () => {});
    },
    close: () => { stopExtending(); if (ping !== null) clearInterval(ping); },
  };
}
