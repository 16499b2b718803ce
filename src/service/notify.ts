/**
 * Telling systemd how the service is (sd_notify, `Type=notify` + `WatchdogSec=` in sipreg.service):
 * READY=1 once the sockets are bound and the store is open, WATCHDOG=1 from the event loop at half the
 * interval systemd gives in $WATCHDOG_USEC (a blocked or stopped loop stops them, and systemd restarts
 * the service), RELOADING=1 / READY=1 around a SIGHUP reload, STOPPING=1 on shutdown.
 *
 * Node cannot send the AF_UNIX datagram itself (node:dgram is UDP only), so each message is one
 * `systemd-notify VAR=VALUE` (the unit needs `NotifyAccess=all`: the sender is that child, not the main
 * PID). systemd-notify waits (sd_notify_barrier) until systemd has handled the message, so the child is
 * still alive when systemd looks up its cgroup to find the unit; one child at a time keeps the messages
 * in order (RELOADING before READY). With $NOTIFY_SOCKET unset (not under systemd) nothing is sent.
 */
import { spawn } from 'node:child_process';
import { boundedInterval } from '../timers.js';
import type { Logger } from '../log.js';

export interface ServiceNotifier {
  /** True when there is a service manager to tell ($NOTIFY_SOCKET set). */
  readonly enabled: boolean;
  /** The watchdog ping interval in ms (half of $WATCHDOG_USEC), or null when no watchdog is asked for. */
  readonly watchdogIntervalMs: number | null;
  ready(): void;
  reloading(): void;
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
    return { enabled: false, watchdogIntervalMs: null, ready() {}, reloading() {}, stopping() {}, close() {} };
  }
  const command = opts.command ?? 'systemd-notify';
  const childEnv = { PATH: env['PATH'] ?? '/usr/bin:/bin', NOTIFY_SOCKET: socket };
  const queue: string[] = [];
  let sending = false;
  let stopped = false;
  let warned = false;
  const run = (message: string, then: () => void): void => {
    const child = spawn(command, [message], { stdio: 'ignore', env: childEnv });
    child.unref();
    let done = false;
    const finish = (problem: string | null): void => {
      if (done) return;
      done = true;
      if (problem !== null && !warned) {
        warned = true;
        opts.log?.warn({ command, message, problem }, 'cannot notify systemd');
      }
      then();
    };
    child.once('error', (err) => finish(err.message));
    child.once('exit', (code, signal) => finish(code === 0 ? null : `exit ${code ?? signal}`));
  };
  const next = (): void => {
    const message = queue.shift();
    if (message === undefined) { sending = false; return; }
    sending = true;
    run(message, next);
  };
  const send = (message: string): void => {
    if (stopped) return;
    // A ping already waiting says the same: the loop was alive.
    if (message === 'WATCHDOG=1' && queue.includes(message)) return;
    queue.push(message);
    if (!sending) next();
  };
  const interval = watchdogIntervalMs(env);
  const ping = interval === null ? null : boundedInterval(() => send('WATCHDOG=1'), interval);
  ping?.unref();
  return {
    enabled: true,
    watchdogIntervalMs: interval,
    ready: () => send('READY=1'),
    reloading: () => send('RELOADING=1'),
    // At once, not behind a ping on its way: the process may exit right after. Nothing is sent after it.
    stopping: () => {
      if (stopped) return;
      stopped = true;
      queue.length = 0;
      if (ping !== null) clearInterval(ping);
      run('STOPPING=1', () => {});
    },
    close: () => { if (ping !== null) clearInterval(ping); },
  };
}
