/**
 * Telling systemd how the service is (sd_notify, `Type=notify` + `WatchdogSec=` in sipreg.service):
 * READY=1 once the sockets are bound and the store is open, WATCHDOG=1 from the event loop at half the
 * interval systemd gives in $WATCHDOG_USEC (a blocked or stopped loop stops them, and systemd restarts
 * the service), RELOADING=1 / READY=1 around a SIGHUP reload, STOPPING=1 on shutdown. A reload reads
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
  /** Stops the watchdog pings (messages already queued are still sent). */
  close(): void;
}

export interface NotifierOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** The program that sends one message per run (tests point it elsewhere). */
  readonly command?: string;
  readonly log?: Logger;
}

/** The watchdog interval systemd asks for, halved; null when none is asked for this process. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | null {
  const usec = Number(env['WATCHDOG_USEC']);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  const forPid = env['WATCHDOG_PID'];
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}

/** Starts the watchdog pings at once (when asked for); READY, RELOADING and STOPPING are the caller's. */
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
    // A ping already waiting says the same: the loop was alive.
    if (message.length === 1 && message[0] === 'WATCHDOG=1' && queue.some((q) => q.message.length === 1 && q.message[0] === 'WATCHDOG=1')) return;
    queue.push(sent === undefined ? { message } : { message, sent });
    if (!sending) next();
  };
  const interval = watchdogIntervalMs(env);
  const ping = interval === null ? null : boundedInterval(() => send(['WATCHDOG=1']), interval);
  ping?.unref();
  const ownUsec = interval === null ? null : String(env['WATCHDOG_USEC']);
  let stretched = false;
  return {
    enabled: true,
    watchdogIntervalMs: interval,
    ready: () => {
      if (stretched && ownUsec !== null) send(['READY=1', 'WATCHDOG=1', `WATCHDOG_USEC=${ownUsec}`]);
      else send(['READY=1']);
      stretched = false;
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
      if (ping !== null) clearInterval(ping);
      for (const item of queue.splice(0)) item.sent?.();
      run(['STOPPING=1'], () => {});
    },
    close: () => { if (ping !== null) clearInterval(ping); },
  };
}
