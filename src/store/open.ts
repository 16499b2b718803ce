import { mkdirSync, accessSync, constants } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import type {
  BindingRecord, EventRecord, LockoutRecord, TrunkStateRecord, SampleRecord, CommandRecord,
} from './records.js';

/**
 * Bumped when a record or key layout changes incompatibly; an older binary refuses a newer store.
 *   1: records in msgpack, each carrying its own field names (msgpackr inline record definitions).
 *   2: `bindings` and `events` use lmdb-js shared structures (SHARED_STRUCTURES_KEY): a record names
 *      a structure id and the field names are stored once in the database. A schema 1 binary cannot
 *      read such records, hence the bump. Migration from 1 is in place and needs nothing: the schema 2
 *      decoder reads schema 1 records as they are (they keep their inline definitions until rewritten),
 *      and the first schema 2 open records version 2, so an older binary then refuses the store with
 *      ERR_STORE_SCHEMA instead of misreading it. Going back to 1 means moving the directory aside.
 */
export const SCHEMA_VERSION = 2;

/**
 * Where lmdb-js keeps the shared msgpack structures of a database (README "Shared Structures"). It is
 * an entry of that database that range reads (and so getCount()) skip, but LMDB's statistics include:
 * entryCount() takes it off. Other processes opening the store with the
 * same option (every sipreg command does, through openStore) reload the structures when they meet an
 * id they do not know yet.
 */
export const SHARED_STRUCTURES_KEY = Symbol.for('structures');

export type StoreErrorCode = 'ERR_STORE_DIR' | 'ERR_STORE_OPEN' | 'ERR_STORE_SCHEMA';

export class StoreError extends Error {
  constructor(readonly code: StoreErrorCode, message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

export type Key = string | number | (string | number)[];

/**
 * One LMDB environment in data_dir with a named database per record kind. The service, the console
 * and admin commands each open it; LMDB's own locking makes that safe (STYLE.md "How lmdb-js wants
 * to be used"). Reads are synchronous from the map; writes in one event-loop turn share one commit.
 */
export interface Store {
  readonly dataDir: string;
  readonly root: RootDatabase;
  readonly meta: Database<unknown, string>;
  readonly bindings: Database<BindingRecord, [string, string]>;
  /** Expiry index: [expiresAtMs, number, contactKey] -> true; the sweep walks it from the start. */
  readonly expiry: Database<true, [number, string, string]>;
  readonly events: Database<EventRecord, [number, number, number]>;
  readonly lockouts: Database<LockoutRecord, string>;
  readonly trunks: Database<TrunkStateRecord, string>;
  readonly samples: Database<SampleRecord, number>;
  readonly commands: Database<CommandRecord, [number, number, number]>;
  close(): Promise<void>;
}

export function openStore(dataDir: string): Store {
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK | constants.R_OK);
  } catch (err) {
    throw new StoreError('ERR_STORE_DIR', `data_dir ${dataDir}: cannot create or write (${describe(err)})`);
  }
  let root: RootDatabase;
  try {
    root = open({ path: dataDir, maxDbs: 16, compression: false });
  } catch (err) {
    throw new StoreError('ERR_STORE_OPEN', `data_dir ${dataDir}: cannot open the store (${describe(err)})`);
  }
  const meta = root.openDB<unknown, string>({ name: 'meta' });
  const version = meta.get('schema_version');
  if (version === undefined || version === 1) {
    // A new store, or a schema 1 store upgraded in place (see SCHEMA_VERSION).
    meta.putSync('schema_version', SCHEMA_VERSION);
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
    // Shared structures: the hot path's records without their field names, decoded by a compiled
    // reader instead of a structure rebuilt per record (bench/registrar/heap.ts: 11.6 -> 8.3 KB per REGISTER).
    bindings: root.openDB({ name: 'bindings', sharedStructuresKey: SHARED_STRUCTURES_KEY }),
    expiry: root.openDB({ name: 'expiry' }),
    events: root.openDB({ name: 'events', sharedStructuresKey: SHARED_STRUCTURES_KEY }),
    lockouts: root.openDB({ name: 'lockouts' }),
    trunks: root.openDB({ name: 'trunks' }),
    samples: root.openDB({ name: 'samples' }),
    commands: root.openDB({ name: 'commands' }),
    close: () => root.close(),
  };
}

/**
 * Entries of a database in O(1), from LMDB's own statistics (mdb_stat), less the shared structures
 * entry. lmdb-js's getCount() walks a cursor over every key: with 100,000 bindings that read every leaf
 * page of the store into the process (RSS) each time the metrics or the keepalive asked.
 */
export function entryCount(db: Database<any, any>): number {
  const n = (db.getStats() as { entryCount: number }).entryCount;
  return n > 0 && db.doesExist(SHARED_STRUCTURES_KEY as never) ? n - 1 : n;
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
