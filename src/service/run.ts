import { loadConfig, formatProblem } from '../config/index.js';
import type { Config } from '../config/types.js';
import { compactStore, openStore, StoreError, StoreFlush, appendEvent, isStoreCommitFailure, type Store } from '../store/index.js';
import { counters } from '../stats/counters.js';
import { createLogger, flushLog, type Logger } from '../log.js';
import type { Component, ServiceContext } from './component.js';
import { housekeeping } from './housekeeping.js';
import { VERSION, COMMIT } from '../version.js';

/** How often the service looks for operator commands (reload, trunk re-register) in the store. */
const COMMAND_POLL_INTERVAL_MS = 1_000;
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
  const loaded = loadConfig(opts.configFile);
  if (loaded.config === null) {
    for (const p of loaded.problems) opts.stderr.write(`${formatProblem(p)}\n`);
    opts.stderr.write(`${opts.configFile}: invalid configuration, not starting\n`);
    return 1;
  }
  let config = withOverride(loaded.config, opts.dataDirOverride);
  const log = createLogger(config.logLevel);
  // Before the store is opened: give back the disk pruned history left in the file (issue 19), when
  // more than half of it is free and no other process has the store open.
  try {
    const c = await compactStore(config.dataDir, { whenSparse: true });
    if (c.compacted) log.info({ beforeBytes: c.beforeBytes, afterBytes: c.afterBytes, ms: c.ms }, `store compacted at start: ${c.reason}`);
  } catch (err) {
    log.warn({ err: errorText(err) }, 'store not compacted at start');
  }
  let store: Store;
  try {
    store = openStore(config.dataDir, { budgetMiB: config.params.storeMaxMiB });
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
  const writes = new StoreFlush(store, config.params.storeFlushIntervalS, (what, err) => {
    counters.storeWriteFailures++;
    log.error({ err: errorText(err) }, what);
  });
  // Before anything answers: the recovery rule if the last stop was not clean, then the running mark.
  try {
    const recovery = await writes.start();
    if (recovery.unclean) {
      log.warn({ extended: recovery.extended, lastFlush: new Date(recovery.mark!.flushedAtMs).toISOString() },
        'the last stop was not clean: every binding live at the last flush is kept as long as its last 200 may have promised');
      await appendEvent(store, { atMs: Date.now(), type: 'alert', number: '', source: '', userAgent: '',
        detail: `unclean stop before this start (last flush ${new Date(recovery.mark!.flushedAtMs).toISOString()}): ` +
          `${recovery.extended} binding(s) kept until their last 200 could have promised (SS_STORE_FLUSH_INTERVAL recovery rule)` });
    }
  } catch (err) {
    opts.stderr.write(`sipreg: data_dir ${config.dataDir}: cannot write the store (${errorText(err)})\n`);
    process.off('unhandledRejection', onUnhandled);
    await store.close().catch(() => {});
    return 1;
  }
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
  const ctx: ServiceContext = { store, writes, log, config: () => config };
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
    await writes.close();
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
      const next = loadConfig(config.file);
      if (next.config === null) {
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
      writes.setInterval(config.params.storeFlushIntervalS);
      for (const c of started) await c.reload(config, previous);
      log.info({ reason, accounts: config.accounts.length, trunks: config.trunks.length }, 'config reloaded');
      await appendEvent(store, { atMs: Date.now(), type: 'config_reloaded', number: '', source: '', userAgent: '', detail: reason });
    } catch (err) {
      log.error({ err: errorText(err) }, 'config reload failed');
    } finally {
      reloading = false;
    }
    const again = reloadAgain;
    reloadAgain = null;
    if (again !== null) await reload(again);
  };

  const poll = setInterval(() => {
    void pollCommands(store, started, log, reload);
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
      const deadline = setTimeout(() => {
        log.error('stop took too long: exiting');
        flushLog(log);
        process.exit(1);
      }, STOP_TIMEOUT_MS);
      deadline.unref();
      void (async () => {
        await stopAll(started, log);
        // The final flush: everything held in memory (refreshed expiries, counters, marks), then the
        // clean-stop mark. A stop that cannot write it leaves the store marked as not cleanly stopped.
        writes.eventOf(Date.now(), 'service_stopped', '', '', '', signal);
        if (!await writes.close()) log.error('final flush failed: the next start applies the recovery rule');
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
    log.info({ version: VERSION, commit: COMMIT, config: config.file, dataDir: config.dataDir, listen: config.sip.listen.map((l) => l.text) }, 'sipreg started');
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

async function pollCommands(store: Store, components: Component[], log: Logger, reload: (reason: string) => Promise<void>): Promise<void> {
  for (const { key, value } of store.commands.getRange({ limit: 16 })) {
    store.commands.remove(key);
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
