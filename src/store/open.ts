import { mkdirSync, accessSync, constants, statSync } from 'node:fs';
import { open, type RootDatabase } from 'lmdb';
import type { Store } from './env.js';
import { migrateToBytes } from './migrate.js';
import { budgetBytesFor, fileSystemSpace, mapSizeFor } from './budget.js';

export type { Key, Store, SpaceGate } from './env.js';
export { entryCount } from './env.js';

/**
 * Bumped when a record or key layout changes incompatibly; an older binary refuses a newer store.
 *   1: records in msgpack, each carrying its own field names (msgpackr inline record definitions).
 *   2: `bindings` and `events` use lmdb-js shared structures (SHARED_STRUCTURES_KEY): a record names
 *      a structure id and the field names are stored once in the database. A schema 1 binary cannot
 *      read such records, hence the bump. Migration from 1 is in place and needs nothing: the schema 2
 *      decoder reads schema 1 records as they are (they keep their inline definitions until rewritten),
 *      and the first schema 2 open records version 2, so an older binary then refuses the store with
 *      ERR_STORE_SCHEMA instead of misreading it. Going back to 1 means moving the directory aside.
 *   3: bindings and history as bytes of our own (binding-codec.ts, events.ts): all bindings of a number
 *      in one value (`aors`), the expiry index of check times [time, number] (`aor_expiry`), history
 *      rows in `history` (a commit's rows in one value), the binding and row counts in meta. A 1 or 2
 *      store is converted at open, in one transaction (migrate.ts), and its old databases dropped.
 */
export const SCHEMA_VERSION = 3;

export type StoreErrorCode =
  | 'ERR_STORE_DIR' | 'ERR_STORE_OPEN' | 'ERR_STORE_SCHEMA'
  // compact.ts: another process has the store open; no room for the copy; the copy failed.
  | 'ERR_STORE_IN_USE' | 'ERR_STORE_NO_ROOM' | 'ERR_STORE_COMPACT';

export class StoreError extends Error {
  constructor(readonly code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

export interface OpenOptions {
  /**
   * The service's SS_STORE_MAX_MB (0 = auto): the memory map starts at its budget's size (lmdb-js
   * `mapSize`; store/limits.ts mapSizeBudgetFactor says why). Without it lmdb-js starts small and grows
   * the map with the file. Either way lmdb-js's LMDB grows the map when a commit needs more: the map is
   * not the size limit, the budget's prune and the file system check are (service/store-space.ts).
   */
  readonly budgetMiB?: number;
}

/**
 * Modes whoever opens the store first, under whatever umask: a data_dir made here is 0700 and the files
 * LMDB makes in it 0600, unless the directory is group-shared (setgid, as the appliance's /var/lib/sipreg,
 * 2770 group sipreg from systemd): there they are 0660, so admin commands and the console can write the
 * lock file. An existing directory or file keeps its mode.
 */
export function openStore(dataDir: string, options: OpenOptions = {}): Store {
  let shared: boolean;
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    accessSync(dataDir, constants.W_OK | constants.R_OK);
    shared = (statSync(dataDir).mode & 0o2000) !== 0;
  } catch (err) {
    throw new StoreError('ERR_STORE_DIR', `data_dir ${dataDir}: cannot create or write (${describe(err)})`);
  }
  let root: RootDatabase;
  const umask = process.umask(shared ? 0o007 : 0o077);
  try {
    const mapSize = options.budgetMiB === undefined ? undefined : mapSizeFor(budgetBytesFor(options.budgetMiB, fileSystemSpace(dataDir).totalBytes));
    root = open({ path: dataDir, maxDbs: 16, compression: false, ...(mapSize === undefined ? {} : { mapSize }) });
  } catch (err) {
    throw new StoreError('ERR_STORE_OPEN', `data_dir ${dataDir}: cannot open the store (${describe(err)})`);
  } finally {
    process.umask(umask);
  }
  const meta = root.openDB<unknown, string>({ name: 'meta' });
  const version = meta.get('schema_version');
  if (version === undefined) {
    meta.putSync('schema_version', SCHEMA_VERSION);
  } else if (version === 1 || version === 2) {
    try {
      migrateToBytes(root, meta, SCHEMA_VERSION);
    } catch (err) {
      root.close().catch(() => {});
      throw new StoreError('ERR_STORE_OPEN', `data_dir ${dataDir}: converting the store from schema ${version} failed (${describe(err)})`);
    }
  } else if (typeof version !== 'number' || version > SCHEMA_VERSION) {
    root.close().catch(() => {});
    throw new StoreError('ERR_STORE_SCHEMA',
      `data_dir ${dataDir}: store schema ${String(version)} is newer than this sipreg understands (${SCHEMA_VERSION}); ` +
      'run the sipreg version that wrote it, or move the directory aside');
  }
  return {
    dataDir,
    root,
    meta,
    bindings: root.openDB({ name: 'aors', encoding: 'binary' }),
    expiry: root.openDB({ name: 'aor_expiry', encoding: 'binary' }),
    events: root.openDB({ name: 'history', encoding: 'binary' }),
    lockouts: root.openDB({ name: 'lockouts' }),
    trunks: root.openDB({ name: 'trunks' }),
    samples: root.openDB({ name: 'samples' }),
    commands: root.openDB({ name: 'commands' }),
    space: { historyPaused: false, historyRowsNotWritten: 0 },
    close: () => root.close(),
  };
}

function describe(err: unknown): string {
  if (err !== null && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown };
    if (typeof e.code === 'string') return e.code;
    if (typeof e.message === 'string') return e.message;
  }
  return String(err);
}

/**
 * True for the rejections lmdb-js produces when a commit fails (a full disk, a map that cannot grow):
 * every write promise of the failed transaction rejects with an Error carrying `commitError`, and
 * that `commitError` promise (one per failed transaction, with a `reject` method of its own) rejects
 * too. Writes nobody awaits (heartbeat, counters snapshot, index entries) leave those rejections
 * unobserved; the service treats them as an operating error to log, not a reason to die.
 */
export function isStoreCommitFailure(reason: unknown, promise: Promise<unknown>): boolean {
  if (reason !== null && typeof reason === 'object' && (reason as { commitError?: unknown }).commitError instanceof Promise) return true;
  return typeof (promise as { reject?: unknown }).reject === 'function';
}
