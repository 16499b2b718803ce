import { boundedInterval, boundedTimeout } from '../timers.js';
import { formatProblem } from '../config/index.js';
import { loadConfigFingerprinted } from '../config/fingerprint.js';
import type { Config } from '../config/types.js';
import {
  compactStore, followSchema, openStore, StoreError, StoreFlush, appendEvent, isStoreCommitFailure, recordConfigInForce, recordConfigRefused,
  takeCommands, type CommandRecord, type SchemaFollow, type Store,
} from '../store/index.js';
import { listenProblem } from './listen-check.js';
import { counters } from '../stats/counters.js';
import { createLogger, flushLog, type LogFormat, type Logger } from '../log.js';
import type { Component, ServiceContext } from '../component.js';
import { housekeeping } from './housekeeping.js';
import { configExposure } from './config-mode.js';
import { VERSION, COMMIT } from '../version.js';
import { acquireDataDir, DataDirError, LEASE_CHECK_INTERVAL_MS, type DataDirLease } from '../store/lease.js';
import { serviceNotifier, type ServiceNotifier } from './notify.js';

/** How often the service looks for operator commands (reload, trunk re-register) in the store. */
const COMMAND_POLL_INTERVAL_MS = 1_000;
/** Commands taken by one poll; more wait for the next. */
const COMMANDS_PER_POLL_MAX = 16;
/** A stop that takes longer than this (stuck unregister, stuck commit) is cut short. */
const STOP_TIMEOUT_MS = 35_000;
/** After losing data_dir: how long REGISTERs already on their way get a 503 (not silence) before the stop. */
const LOST_DRAIN_MS = 1_000;

export interface RunOptions {
  readonly configFile: string;
  readonly dataDirOverride: string | null;
  readonly stderr: NodeJS.WritableStream;
  readonly logFormat: LogFormat;
  /** Builds the parts of the service; the registrar and trunks add theirs here. */
  readonly components: ((ctx: ServiceContext) => Component)[];
}

function withOverride(config: Config, dataDir: string | null): Config {
  return dataDir === null ? config : { ...config, dataDir };
}

/** What the running service holds from start-up to stop; `config` and `generation` change on reload. */
interface Running {
  readonly opts: RunOptions;
  config: Config;
  /** The store's count of configs put in force, as the console and the admin commands follow it. */
  generation: number;
  readonly log: Logger;
  readonly notify: ServiceNotifier;
  readonly lease: DataDirLease;
  readonly store: Store;
  readonly writes: StoreFlush;
  readonly started: Component[];
  readonly onUnhandled: (reason: unknown, promise: Promise<unknown>) => void;
  /** The signals that came during start-up, handled once it is done. */
  readonly held: { release(): NodeJS.Signals[] };
}

/**
 * `sipreg run`: loads the config, opens the store, starts every component, and then lives until
 * SIGTERM/SIGINT. SIGHUP re-reads the config: valid → applied, invalid → refused and logged.
 * Resolves with the exit code.
 */
export async function runService(opts: RunOptions): Promise<number> {
  const loaded = loadConfigFingerprinted(opts.configFile);
  if (loaded.config === null || loaded.sha256 === null) {
    for (const p of loaded.problems) opts.stderr.write(`${formatProblem(p)}\n`);
    opts.stderr.write(`${opts.configFile}: invalid configuration, not starting\n`);
    return 1;
  }
  const config = withOverride(loaded.config, opts.dataDirOverride);
  const log = createLogger(config.logLevel, opts.logFormat);
  // The start timeout stretched from here on while the start makes progress: opening (or compacting) the
  // store and loading the bindings take a while on a small box. Watchdog pings from READY=1.
  const notify = serviceNotifier({ log });
  warnIfExposed(config, log);
  const running = await startService(opts, config, loaded.sha256, log, notify);
  if (typeof running === 'number') {
    notify.close();
    return running;
  }
  return await serveUntilStopped(running);
}

/** The store opened and recovered, the config recorded, every component started; or the exit code of a
 *  start that failed (reported on stderr, everything opened closed again). */
async function startService(opts: RunOptions, config: Config, sha256: string, log: Logger, notify: ServiceNotifier):
  Promise<Running | number> {
  let opened: OpenedStore;
  try {
    opened = await openServiceStore(config, log);
  } catch (err) {
    if (err instanceof StoreError || err instanceof DataDirError) {
      opts.stderr.write(`sipreg: ${err.message}\n`);
      return 1;
    }
    notify.close();
    throw err;
  }
  const { lease, store, followed } = opened;
  // A failed commit rejects every write of its transaction, awaited or not. The writers that answer
  // someone (the registrar's 200/500) handle theirs; the rest must not take the service down.
  const onUnhandled = storeFailureHandler(log);
  process.on('unhandledRejection', onUnhandled);
  const writes = new StoreFlush(store, config.params.storeFlushIntervalS, (what, err) => {
    counters.storeWriteFailures++;
    log.error({ err: errorText(err) }, what);
  });
  try {
    await recoverStore(writes, store, log);
  } catch (err) {
    opts.stderr.write(`sipreg: data_dir ${config.dataDir}: cannot write the store (${errorText(err)})\n`);
    process.off('unhandledRejection', onUnhandled);
    await store.close().catch(() => {});
    return 1;
  }
  if (followed.action !== 'none') {
    await appendEvent(store, { atMs: Date.now(), type: 'alert', number: '', source: '', userAgent: '', detail: followed.message }).catch(() => {});
  }
  const held = holdStartSignals();
  const running: Running = { opts, config, generation: 0, log, notify, lease, store, writes, started: [], onUnhandled, held };
  await recordConfig(running, sha256);
  const ctx: ServiceContext = { store, writes, log, config: () => running.config };
  const components: Component[] = [housekeeping(ctx), ...opts.components.map((make) => make(ctx))];
  try {
    for (const c of components) {
      await c.start();
      running.started.push(c);
    }
  } catch (err) {
    log.fatal({ err: errorText(err) }, 'start-up failed');
    opts.stderr.write(`sipreg: ${errorText(err)}\n`);
    await stopAll(running.started, log);
    await writes.close();
    await store.close();
    flushLog(log);
    held.release();
    process.off('unhandledRejection', onUnhandled);
    return 1;
  }
  return running;
}

/** What the console and the admin commands follow: the file and the hash of what was parsed. */
async function recordConfig(running: Running, sha256: string): Promise<void> {
  try {
    running.generation = (await recordConfigInForce(running.store, running.config.file, sha256, Date.now())).generation;
  } catch (err) {
    running.log.error({ err: errorText(err) }, 'config in force not recorded in the store: the console may show the previous one');
  }
}

/** `reload(reason)`: re-reads the config file and applies it, or refuses it and keeps the running one.
 *  One reload at a time; a request during one runs once it ends (the file may have changed again),
 *  except after a refusal: then the request stays queued until the next reload ends. */
function configReloader(running: Running): (reason: string) => Promise<void> {
  const { log, notify, store } = running;
  let reloading = false;
  let reloadAgain: string | null = null;
  const reload = async (reason: string): Promise<void> => {
    if (reloading) {
      reloadAgain = reason;
      return;
    }
    reloading = true;
    let sha256 = '';
    // Refused: logged, kept as an event, and recorded for `sipreg config apply`, which waits on it.
    const refuse = async (errors: string[]): Promise<void> => {
      log.error({ errors, reason }, 'config reload refused: the running config is kept');
      await appendEvent(store, { atMs: Date.now(), type: 'config_refused', number: '', source: '', userAgent: '', detail: errors.slice(0, 5).join('; ') });
      await recordConfigRefused(store, running.config.file, sha256, errors.slice(0, 3).join('; '), Date.now());
    };
    await notify.reloading();
    try {
      const next = loadConfigFingerprinted(running.config.file);
      sha256 = next.sha256 ?? '';
      if (next.config === null || next.sha256 === null) {
        await refuse(next.problems.map(formatProblem));
        return;
      }
      if (!await applyConfig(running, withOverride(next.config, running.opts.dataDirOverride), next.sha256, reason, refuse)) return;
    } catch (err) {
      log.error({ err: errorText(err) }, 'config reload failed');
      await recordConfigRefused(store, running.config.file, sha256, `reload failed: ${errorText(err)}`, Date.now()).catch(() => {});
    } finally {
      reloading = false;
      notify.ready();
    }
    const again = reloadAgain;
    reloadAgain = null;
    if (again !== null) await reload(again);
  };
  return reload;
}

/** Puts a valid config in force, except what waits for the next restart (sip.listen, data_dir); a listen
 *  address this host cannot bind is refused now, not found at that restart. False when refused. */
async function applyConfig(running: Running, nextConfig: Config, sha256: string, reason: string,
  refuse: (errors: string[]) => Promise<void>): Promise<boolean> {
  const { log, store } = running;
  const previous = running.config;
  if (nextConfig.sip.listen.map((l) => l.text).join() !== previous.sip.listen.map((l) => l.text).join()) {
    const problem = await listenProblem(nextConfig.sip.listen, previous.sip.listen);
    if (problem !== null) {
      await refuse([`${problem}; the service keeps its sockets and its running config`]);
      return false;
    }
    log.warn('sip.listen changed: takes effect at the next restart');
  }
  warnIfExposed(nextConfig, log);
  if (nextConfig.dataDir !== previous.dataDir) log.warn({ dataDir: nextConfig.dataDir }, 'data_dir changed: takes effect at the next restart');
  const config = { ...nextConfig, dataDir: previous.dataDir, sip: { ...nextConfig.sip, listen: previous.sip.listen } };
  running.config = config;
  log.level = config.logLevel;
  running.writes.changeInterval(config.params.storeFlushIntervalS);
  for (const c of running.started) await c.reload(config, previous);
  await recordConfig(running, sha256);
  log.info({ reason, accounts: config.accounts.length, trunks: config.trunks.length, generation: running.generation }, 'config reloaded');
  await appendEvent(store, { atMs: Date.now(), type: 'config_reloaded', number: '', source: '', userAgent: '', detail: `${reason}; generation ${running.generation}` });
  return true;
}

/**
 * The started service until it stops: operator commands polled, SIGHUP reloads, SIGTERM/SIGINT (or
 * losing data_dir) stop every component and close the store. Resolves with the exit code.
 */
async function serveUntilStopped(running: Running): Promise<number> {
  const { log, notify, store, writes, started } = running;
  const reload = configReloader(running);
  // One poll at a time: a slow command (a reload) or a write lock held elsewhere delays the next.
  let polling = false;
  const poll = boundedInterval(() => {
    if (polling) return;
    polling = true;
    void pollCommands(store, started, log, reload, writes).finally(() => { polling = false; });
  }, COMMAND_POLL_INTERVAL_MS);

  return await new Promise<number>((resolveExit) => {
    let stopping = false;
    let exitCode = 0;
    const onHup = (): void => { void reload('SIGHUP'); };
    // data_dir deleted, replaced or taken by another service: refuse REGISTERs at once (503), then stop
    // with exit 1 so systemd (Restart=on-failure) starts a service on a data_dir it really holds.
    const watch = boundedInterval(() => {
      const lost = stopping ? null : running.lease.check();
      if (lost === null) return;
      clearInterval(watch);
      for (const c of started) c.suspend?.();
      log.error({ dataDir: running.config.dataDir, reason: lost }, 'data_dir lost: answering 503 and exiting for a restart');
      exitCode = 1;
      boundedTimeout(() => { if (!stopping) onStop('data_dir lost'); }, LOST_DRAIN_MS);
    }, LEASE_CHECK_INTERVAL_MS);
    const onStop = (signal: NodeJS.Signals | 'data_dir lost'): void => {
      if (stopping) {
        log.warn({ signal }, 'second stop signal: exiting now');
        flushLog(log);
        process.exit(1);
      }
      stopping = true;
      notify.stopping();
      notify.close();
      log.info({ signal }, 'stopping');
      clearInterval(poll);
      clearInterval(watch);
      void stopService(running, signal).then(() => {
        process.off('SIGHUP', onHup);
        process.off('SIGTERM', onStop);
        process.off('SIGINT', onStop);
        resolveExit(exitCode);
      });
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    const early = running.held.release();
    // Logged only now: whoever waits for this line may signal at once.
    log.info({ version: VERSION, commit: COMMIT, config: running.config.file, configGeneration: running.generation, dataDir: running.config.dataDir,
      listen: running.config.sip.listen.map((l) => l.text) }, 'sipreg started');
    // Sockets bound (every component started) and the store open: systemd's Type=notify start ends here.
    notify.ready();
    void appendEvent(store, { atMs: Date.now(), type: 'service_started', number: '', source: '', userAgent: '', detail: `sipreg ${VERSION} pid ${process.pid}` });
    const stop = early.find((signal) => signal !== 'SIGHUP');
    if (stop !== undefined) onStop(stop);
    else if (early.length > 0) onHup();
  });
}

/** Stops every component, then the final flush and the store; a stop that takes longer than
 *  STOP_TIMEOUT_MS exits the process. */
async function stopService(running: Running, signal: string): Promise<void> {
  const { log, store, writes } = running;
  const deadline = boundedTimeout(() => {
    log.error('stop took too long: exiting');
    flushLog(log);
    process.exit(1);
  }, STOP_TIMEOUT_MS);
  deadline.unref();
  await stopAll(running.started, log);
  // The final flush: everything held in memory (refreshed expiries, counters, marks), then the
  // clean-stop mark. A stop that cannot write it leaves the store marked as not cleanly stopped.
  writes.eventOf(Date.now(), 'service_stopped', '', '', '', signal);
  if (!await writes.close()) log.error('final flush failed: the next start applies the recovery rule');
  await store.close();
  log.info('stopped');
  flushLog(log);
  process.off('unhandledRejection', running.onUnhandled);
  clearTimeout(deadline);
}

/** Rejections of failed store commits are counted and logged; any other unhandled rejection is thrown. */
function storeFailureHandler(log: Logger): (reason: unknown, promise: Promise<unknown>) => void {
  return (reason, promise) => {
    if (!isStoreCommitFailure(reason, promise)) throw reason;
    counters.storeWriteFailures++;
    log.error({ err: errorText(reason) }, 'store write failed (disk full?)');
  };
}

/**
 * Signals that come while the parts start (a quick `systemctl reload` or stop) wait for start-up to end,
 * rather than killing the process with their default action; release() says which came.
 */
function holdStartSignals(): { release(): NodeJS.Signals[] } {
  const early: NodeJS.Signals[] = [];
  const onEarly = (signal: NodeJS.Signals): void => { early.push(signal); };
  const names = ['SIGHUP', 'SIGTERM', 'SIGINT'] as const;
  for (const signal of names) process.on(signal, onEarly);
  return { release: () => { for (const signal of names) process.off(signal, onEarly); return early; } };
}

interface OpenedStore {
  readonly lease: DataDirLease;
  readonly store: Store;
  readonly followed: SchemaFollow;
}

/**
 * The data_dir leased to this process (service.pid), the store following the firmware, compacted when
 * sparse, then opened. Throws StoreError / DataDirError for the caller to report.
 */
async function openServiceStore(config: Config, log: Logger): Promise<OpenedStore> {
  const lease = acquireDataDir(config.dataDir);
  // However the process ends from here (return, process.exit), the pid file goes; after a kill it is stale.
  process.once('exit', () => lease.release());
  // First the store follows the firmware: a snapshot before this version converts it, or the snapshot of
  // this version's schema back after a fallback from a newer one (store/schema-snapshots.ts).
  const followed = await followSchema(config.dataDir, VERSION);
  if (followed.action === 'restored') log.warn({ dataDir: config.dataDir }, followed.message);
  else if (followed.action === 'snapshot') log.info({ dataDir: config.dataDir }, followed.message);
  // Before the store is opened: give back the disk pruned history left in the file, when more than
  // half of it is free and no other process has it open.
  await compactAtStart(config.dataDir, log);
  const store = openStore(config.dataDir, { budgetMiB: config.params.storeMaxMiB });
  lease.pinStore();
  return { lease, store, followed };
}

/** Before anything answers: the recovery rule if the last stop was not clean, then the running mark. */
async function recoverStore(writes: StoreFlush, store: Store, log: Logger): Promise<void> {
  const recovery = await writes.start();
  if (!recovery.unclean) return;
  log.warn({ extended: recovery.extended, lastFlush: new Date(recovery.mark!.flushedAtMs).toISOString() },
    'the last stop was not clean: every binding live at the last flush is kept as long as its last 200 may have promised');
  await appendEvent(store, { atMs: Date.now(), type: 'alert', number: '', source: '', userAgent: '',
    detail: `unclean stop before this start (last flush ${new Date(recovery.mark!.flushedAtMs).toISOString()}): ` +
      `${recovery.extended} binding(s) kept until their last 200 could have promised (SS_STORE_FLUSH_INTERVAL recovery rule)` });
}

/** Compacts a store more than half free (store/compact.ts); a failure is logged, never fatal. */
async function compactAtStart(dataDir: string, log: Logger): Promise<void> {
  try {
    const c = await compactStore(dataDir, { whenSparse: true });
    if (c.compacted) log.info({ beforeBytes: c.beforeBytes, afterBytes: c.afterBytes, ms: c.ms }, `store compacted at start: ${c.reason}`);
  } catch (err) {
    log.warn({ err: errorText(err) }, 'store not compacted at start');
  }
}

function warnIfExposed(config: Config, log: Logger): void {
  const exposed = configExposure(config);
  if (exposed !== null) {
    log.warn({ config: config.file, mode: exposed.mode },
      `the config holds passwords or HA1s and is open to ${exposed.openTo}: chmod o-rwx (and g-rwx unless its group is the service's)`);
  }
}

async function stopAll(started: Component[], log: Logger): Promise<void> {
  for (const c of [...started].reverse()) {
    try {
      await c.stop();
    } catch (err) {
      log.error({ component: c.name, err: errorText(err) }, 'stop failed');
    }
  }
}

/** Runs the queued operator commands, each taken from the store (committed) before it runs. */
async function pollCommands(
  store: Store, components: Component[], log: Logger, reload: (reason: string) => Promise<void>, writes: StoreFlush,
): Promise<void> {
  let taken: CommandRecord[];
  try {
    taken = await takeCommands(store, COMMANDS_PER_POLL_MAX);
  } catch (err) {
    log.error({ err: errorText(err) }, 'operator commands not taken from the store');
    return;
  }
  for (const value of taken) {
    try {
      if (value.type === 'reload') {
        await reload('operator request');
        continue;
      }
      // `sipreg events` asking for the history held in memory now (rate-bounded in StoreFlush).
      if (value.type === 'flush') {
        await writes.flushOnRequest();
        continue;
      }
      let handled = false;
      for (const c of components) if (c.command !== undefined && await c.command(value)) handled = true;
      if (!handled) log.warn({ command: value.type, arg: value.arg }, 'operator command not handled');
    } catch (err) {
      log.error({ command: value.type, err: errorText(err) }, 'operator command failed');
    }
  }
}

export function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
