import { mkdirSync, accessSync, constants } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import type {
  BindingRecord, EventRecord, LockoutRecord, TrunkStateRecord, SampleRecord, CommandRecord,
} from './records.js';

/** Bumped when a record or key layout changes incompatibly; an older binary refuses a newer store. */
export const SCHEMA_VERSION = 1;

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
  if (version === undefined) {
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
    bindings: root.openDB({ name: 'bindings' }),
    expiry: root.openDB({ name: 'expiry' }),
    events: root.openDB({ name: 'events' }),
    lockouts: root.openDB({ name: 'lockouts' }),
    trunks: root.openDB({ name: 'trunks' }),
    samples: root.openDB({ name: 'samples' }),
    commands: root.openDB({ name: 'commands' }),
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
