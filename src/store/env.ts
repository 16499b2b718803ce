/**
 * The store's environment as every store module sees it: the handle `openStore` (open.ts) returns, the
 * history gate it carries, and entry counts from LMDB's statistics. Kept apart from open.ts, which also
 * migrates, so that the record modules open.ts reaches do not import it back.
 */
import type { Database, RootDatabase } from 'lmdb';
import type { LockoutRecord, TrunkStateRecord, SampleRecord, CommandRecord } from './records.js';

export type Key = string | number | (string | number)[];

/**
 * One LMDB environment in data_dir with a named database per record kind. The service, the console
 * and admin commands each open it; LMDB's own locking makes that safe. Reads are synchronous from the
 * map; writes in one event-loop turn share one commit.
 */
export interface Store {
  readonly dataDir: string;
  readonly root: RootDatabase;
  readonly meta: Database<unknown, string>;
  /** number -> its bindings as bytes (binding-codec.ts); written only through bindings.ts AorMerge. */
  readonly bindings: Database<Buffer, string>;
  /** Expiry index: [expiresAtMs, number] -> 1 byte; the sweep walks it from the start. */
  readonly expiry: Database<Buffer, [number, string]>;
  /** History rows as bytes (events.ts), key [atMs, pid, seq]. */
  readonly events: Database<Buffer, [number, number, number]>;
  readonly lockouts: Database<LockoutRecord, string>;
  readonly trunks: Database<TrunkStateRecord, string>;
  readonly samples: Database<SampleRecord, number>;
  readonly commands: Database<CommandRecord, [number, number, number]>;
  /** This process's gate on history writes: see SpaceGate. */
  readonly space: SpaceGate;
  close(): Promise<void>;
}

/**
 * This process's gate on history writes: the service closes it while the file system is nearly full,
 * so history stops before a binding change finds no room (service/store-space.ts). Every history
 * writer goes through events.ts (EventWriter.putIn, appendEvent), which looks here.
 */
export interface SpaceGate {
  historyPaused: boolean;
  /** Rows refused while paused, since this process opened the store. */
  historyRowsNotWritten: number;
}

/**
 * Entries of a database in O(1), from LMDB's own statistics (mdb_stat). lmdb-js's getCount() walks a
 * cursor over every key: with 100,000 bindings that read every leaf page into the process (RSS).
 */
export function entryCount(db: Database<any, any>): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}
