import { resolve } from 'node:path';
import { loadConfig, formatProblem } from '../config/index.js';
import type { Config } from '../config/types.js';
import { openStore, StoreError, type Store } from '../store/index.js';
import { optString } from './args.js';
import type { CommandContext } from './command.js';

/** An operating error that ends a command with one clear line on stderr and exit 1. */
export class CommandError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Loads the config named by -c; on problems prints each as FILE:LINE:COL: KEY: message and fails. */
export function requireConfig(ctx: CommandContext): Config {
  const { config, problems } = loadConfig(ctx.configFile);
  if (config === null) {
    for (const p of problems) ctx.stderr.write(`${formatProblem(p)}\n`);
    throw new CommandError(`${ctx.configFile}: invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'})`);
  }
  return config;
}

/** The data directory: --data-dir when given (relative to the working directory), else the config's. */
export function dataDirOf(ctx: CommandContext, config: Config): string {
  const override = optString(ctx.args, 'data-dir');
  return override === undefined ? config.dataDir : resolve(override);
}

export function openStoreOrFail(dataDir: string): Store {
  try {
    return openStore(dataDir);
  } catch (err) {
    if (err instanceof StoreError) throw new CommandError(err.message);
    throw err;
  }
}

/** Runs fn with the store open, and closes it however fn ends. */
export async function withStore<T>(ctx: CommandContext, fn: (store: Store, config: Config) => Promise<T> | T): Promise<T> {
  const config = requireConfig(ctx);
  const store = openStoreOrFail(dataDirOf(ctx, config));
  try {
    return await fn(store, config);
  } finally {
    await store.close();
  }
}
