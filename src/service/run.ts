import { boundedInterval, boundedTimeout } from '../timers.js';
import { formatProblem } from '../config/index.js';
import { loadConfigFingerprinted } from '../config/fingerprint.js';
import type { Config } from '../config/types.js';
import {
  openStore, StoreError, appendEvent, isStoreCommitFailure, recordConfigInForce, takeCommands, type CommandRecord, type Store,
} from '../store/index.js';
import { counters } from '../stats/counters.js';
import { createLogger, flushLog, type Logger } from '../log.js';
import type { Component, ServiceContext } from './component.js';
import { housekeeping } from './housekeeping.js';
import { VERSION, COMMIT } from '../version.js';

/** How often the service looks for operator commands (reload, trunk re-register) in the store. */
const COMMAND_POLL_INTERVAL_MS = 1_000;
/** Commands taken by one poll; more wait for the next. */
const COMMANDS_PER_POLL_MAX = 16;
/** A stop that takes longer than this (stuck unregister, stuck commit) is cut short. */
const STOP_TIMEOUT_MS = 35_000;

export interface RunOptions {
  readonly configFile: string;
  readonly dataDirOverride: string | null;
  readonly stderr: NodeJS.WritableStream;
  /** Builds the parts of the service; the registrar and trunks add theirs here. */
  readonly components: ((ctx: ServiceContext) => Component)[];
}

function withOverride(config: Config, dataDir: string | null): Config {
  return dataDir === null ? config : { ...config, dataDir };
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
  let config = withOverride(loaded.config, opts.dataDirOverride);
  const log = createLogger(config.logLevel);
  let store: Store;
  try {
    store = openStore(config.dataDir);
  } catch (err) {
    if (err instanceof StoreError) {
      opts.stderr.write(`sipreg: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  // A failed commit rejects every write of its transaction, awaited or not. The writers that answer
  // someone (the registrar's 200/500) handle theirs; the rest must not take the service down.
  const onUnhandled = (reason: unknown, promise: Promise<unknown>): void => {
    if (!isStoreCommitFailure(reason, promise)) throw reason;
    counters.storeWriteFailures++;
    log.error({ err: errorText(reason) }, 'store write failed (disk full?)');
  };
  process.on('unhandledRejection', onUnhandled);
  // Signals that come while the parts start (a quick `systemctl reload` or stop) wait for start-up to end,
  // rather than killing the process with their default action.
  const early: NodeJS.Signals[] = [];
  const onEarly = (signal: NodeJS.Signals): void => { early.push(signal); };
  const earlySignals = (on: boolean): void => {
    for (const signal of ['SIGHUP', 'SIGTERM', 'SIGINT'] as const) {
      if (on) process.on(signal, onEarly);
      else process.off(signal, onEarly);
    }
  };
  earlySignals(true);
  // What the console and the admin commands follow (issue 16): the file and the hash of what was parsed.
  let generation = 0;
  const recordConfig = async (sha256: string): Promise<void> => {
    try {
      generation = (await recordConfigInForce(store, config.file, sha256, Date.now())).generation;
    } catch (err) {
      log.error({ err: errorText(err) }, 'config in force not recorded in the store: the console may show the previous one');
    }
  };
  await recordConfig(loaded.sha256);
  const ctx: ServiceContext = { store, log, config: () => config };
  const components: Component[] = [housekeeping(ctx), ...opts.components.map((make) => make(ctx))];
  const started: Component[] = [];
  try {
    for (const c of components) {
      await c.start();
      started.push(c);
    }
  } catch (err) {
    log.fatal({ err: errorText(err) }, 'start-up failed');
    opts.stderr.write(`sipreg: ${errorText(err)}\n`);
    await stopAll(started, log);
    await store.close();
    flushLog(log);
    earlySignals(false);
    process.off('unhandledRejection', onUnhandled);
    return 1;
  }

  let reloading = false;
  let reloadAgain: string | null = null; // a SIGHUP during a reload: the file may have changed again since it was read
  const reload = async (reason: string): Promise<void> => {
    if (reloading) {
      reloadAgain = reason;
      return;
    }
    reloading = true;
    try {
      const next = loadConfigFingerprinted(config.file);
      if (next.config === null || next.sha256 === null) {
        const errors = next.problems.map(formatProblem);
        log.error({ errors, reason }, 'config reload refused: the running config is kept');
        await appendEvent(store, { atMs: Date.now(), type: 'config_refused', number: '', source: '', userAgent: '', detail: errors.slice(0, 5).join('; ') });
        return;
      }
      const nextConfig = withOverride(next.config, opts.dataDirOverride);
      const previous = config;
      if (nextConfig.dataDir !== previous.dataDir) log.warn({ dataDir: nextConfig.dataDir }, 'data_dir changed: takes effect at the next restart');
      if (nextConfig.sip.listen.map((l) => l.text).join() !== previous.sip.listen.map((l) => l.text).join()) {
        log.warn('sip.listen changed: takes effect at the next restart');
      }
      config = { ...nextConfig, dataDir: previous.dataDir, sip: { ...nextConfig.sip, listen: previous.sip.listen } };
      log.level = config.logLevel;
      for (const c of started) await c.reload(config, previous);
      await recordConfig(next.sha256);
      log.info({ reason, accounts: config.accounts.length, trunks: config.trunks.length, generation }, 'config reloaded');
      await appendEvent(store, { atMs: Date.now(), type: 'config_reloaded', number: '', source: '', userAgent: '', detail: `${reason}; generation ${generation}` });
    } catch (err) {
      log.error({ err: errorText(err) }, 'config reload failed');
    } finally {
      reloading = false;
    }
    const again = reloadAgain;
    reloadAgain = null;
    if (again !== null) await reload(again);
  };

  // One poll at a time: a slow command (a reload) or a write lock held elsewhere delays the next.
  let polling = false;
  const poll = boundedInterval(() => {
    if (polling) return;
    polling = true;
    void pollCommands(store, started, log, reload).finally(() => { polling = false; });
  }, COMMAND_POLL_INTERVAL_MS);

  return await new Promise<number>((resolveExit) => {
    let stopping = false;
    const onHup = (): void => { void reload('SIGHUP'); };
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        log.warn({ signal }, 'second stop signal: exiting now');
        flushLog(log);
        process.exit(1);
      }
      stopping = true;
      log.info({ signal }, 'stopping');
      clearInterval(poll);
      const deadline = boundedTimeout(() => {
        log.error('stop took too long: exiting');
        flushLog(log);
        process.exit(1);
      }, STOP_TIMEOUT_MS);
      deadline.unref();
      void (async () => {
        await stopAll(started, log);
        await appendEvent(store, { atMs: Date.now(), type: 'service_stopped', number: '', source: '', userAgent: '', detail: signal }).catch(() => false);
        await store.close();
        log.info('stopped');
        flushLog(log);
        process.off('SIGHUP', onHup);
        process.off('SIGTERM', onStop);
        process.off('SIGINT', onStop);
        process.off('unhandledRejection', onUnhandled);
        clearTimeout(deadline);
        resolveExit(0);
      })();
    };
    process.on('SIGHUP', onHup);
    process.on('SIGTERM', onStop);
    process.on('SIGINT', onStop);
    earlySignals(false);
    // Logged only now: whoever waits for this line may signal at once.
    log.info({ version: VERSION, commit: COMMIT, config: config.file, configGeneration: generation, dataDir: config.dataDir, listen: config.sip.listen.map((l) => l.text) }, 'sipreg started');
    void appendEvent(store, { atMs: Date.now(), type: 'service_started', number: '', source: '', userAgent: '', detail: `sipreg ${VERSION} pid ${process.pid}` });
    const stop = early.find((signal) => signal !== 'SIGHUP');
    if (stop !== undefined) onStop(stop);
    else if (early.length > 0) onHup();
  });
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
async function pollCommands(store: Store, components: Component[], log: Logger, reload: (reason: string) => Promise<void>): Promise<void> {
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
