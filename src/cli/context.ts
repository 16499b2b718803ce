import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadConfig, loadConfigForReading, parseConfigText, formatProblem } from '../config/index.js';
import type { Config } from '../config/types.js';
import { openStore, readConfigRecord, StoreError, type Store } from '../store/index.js';
import { fileSha256 } from '../config/fingerprint.js';
import { STORE_FILE } from '../store/lease.js';
import { optString } from './args.js';
import type { CommandContext } from './command.js';
import { CommandError } from './errors.js';

/** `no config at PATH (looked in: ...)` when the config file does not exist, else null. */
export function missingConfig(ctx: CommandContext): string | null {
  try {
    statSync(ctx.configFile);
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return null; // unreadable: loadConfig says why
  }
  const from = typeof ctx.configFrom === 'string'
    ? `(from ${ctx.configFrom})`
    : `(looked in: ${ctx.configFrom.join(', ')}; name one with -c FILE or $SIPREG_CONFIG)`;
  return `no config at ${ctx.configFile} ${from}`;
}

/** Loads the config found for this command; on problems prints each as FILE:LINE:COL: KEY: message and
 *  fails. A reading command (ctx.readsOnly) goes on with what it needs, data_dir, after one warning. */
export function requireConfig(ctx: CommandContext): Config {
  const override = optString(ctx.args, 'data-dir');
  const missing = missingConfig(ctx);
  if (missing !== null) {
    if (!ctx.readsOnly || override === undefined) throw new CommandError('ERR_CLI_NO_CONFIG', missing);
    ctx.stderr.write(`sipreg ${ctx.command}: warning: ${missing}; reading the store in ${resolve(override)} with default settings\n`);
    return parseConfigText('', ctx.configFile).draft!;
  }
  // A reading command and the console have no use for the accounts (the console's Why screen reads them
  // when it needs them): a config of 10,000 is read without them.
  const light = ctx.readsOnly || ctx.command === 'console';
  const { config, problems, draft } = light ? loadConfigForReading(ctx.configFile) : loadConfig(ctx.configFile);
  if (config !== null) return config;
  const summary = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  if (!ctx.readsOnly || draft === null) {
    for (const p of problems) ctx.stderr.write(`${formatProblem(p)}\n`);
    throw new CommandError('ERR_CLI_CONFIG_INVALID', `${ctx.configFile}: invalid configuration (${summary})`);
  }
  if (override === undefined && problems.some((p) => p.key === 'data_dir')) {
    throw new CommandError('ERR_CLI_CONFIG_INVALID', `${ctx.configFile}: data_dir has a problem (see sipreg check -c ${ctx.configFile}); name the store with --data-dir DIR`);
  }
  const dataDir = override === undefined ? draft.dataDir : resolve(override);
  ctx.stderr.write(`sipreg ${ctx.command}: warning: ${ctx.configFile} has ${summary} (see sipreg check -c ${ctx.configFile}); ` +
    `reading the store in ${dataDir} anyway\n`);
  return draft;
}

/**
 * A config read without its accounts was checked only outside them. When its bytes are the ones the
 * running service loaded, the service accepted them; otherwise (being edited, or no service yet) the whole
 * file is read once more, so a reading command still warns about a problem in the accounts.
 */
function warnIfAccountsUnchecked(ctx: CommandContext, config: Config, store: Store): void {
  if (config.accountsOmitted !== true) return;
  const record = readConfigRecord(store);
  if (record !== null && record.file === config.file && record.sha256 === fileSha256(config.file)) return;
  const { problems } = loadConfig(ctx.configFile);
  if (problems.length === 0) return;
  const summary = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  ctx.stderr.write(`sipreg ${ctx.command}: warning: ${ctx.configFile} has ${summary} (see sipreg check -c ${ctx.configFile}); ` +
    `reading the store in ${store.dataDir} anyway\n`);
}

/** The data directory: --data-dir when given (relative to the working directory), else the config's. */
export function dataDirOf(ctx: CommandContext, config: Config): string {
  const override = optString(ctx.args, 'data-dir');
  return override === undefined ? config.dataDir : resolve(override);
}

/** Opens an existing store. Never creates one: an admin command pointed at the wrong directory, or run
 *  after data_dir was deleted, must say so rather than show an empty store as if it were the service's. */
export function openStoreOrFail(dataDir: string): Store {
  try {
    statSync(join(dataDir, STORE_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new CommandError('ERR_CLI_NO_STORE', `no store at ${dataDir}: the service has never run there`);
    // Anything else (a directory we may not enter): openStore below names the problem.
  }
  try {
    return openStore(dataDir);
  } catch (err) {
    if (err instanceof StoreError) throw new CommandError('ERR_CLI_STORE', err.message);
    throw err;
  }
}

/** Runs fn with the store open, and closes it however fn ends. */
export async function withStore<T>(ctx: CommandContext, fn: (store: Store, config: Config) => Promise<T> | T): Promise<T> {
  const config = requireConfig(ctx);
  const store = openStoreOrFail(dataDirOf(ctx, config));
  try {
    warnIfAccountsUnchecked(ctx, config, store);
    return await fn(store, config);
  } finally {
    await store.close();
  }
}
