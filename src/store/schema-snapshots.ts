// The store follows the firmware. Before a sipreg converts the store to its newer schema, it keeps
// a compacting copy of the store as it was: data_dir/snapshots/schema-<old>/. A sipreg that finds a store of
// a schema newer than it understands (the box fell back to the slot of the older firmware) and a snapshot
// of its own schema puts that snapshot back, keeping the newer store in snapshots/schema-<newer>/, instead
// of refusing to start. Both run in the service before it opens the store, while no other process has it
// open (the same rule as compact.ts).
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open } from 'lmdb';
import { SCHEMA_VERSION, StoreError } from './open.js';
import { refuseIfHeld } from './compact.js';
import { dataFileOf } from './space.js';

export const SNAPSHOTS_DIR = 'snapshots';

export interface SchemaFollow {
  readonly action: 'none' | 'snapshot' | 'restored';
  /** What happened, for the log and the history. */
  readonly message: string;
}

interface SnapshotInfo {
  readonly schema: number;
  readonly takenAt: string;
  readonly takenBy: string;
}

export function snapshotDir(dataDir: string, schema: number): string {
  return join(dataDir, SNAPSHOTS_DIR, `schema-${schema}`);
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** The schema the store in dataDir says it has, or null when there is no store. */
function storeSchema(dataDir: string): { schema: unknown; root: ReturnType<typeof open> } | null {
  if (!existsSync(dataFileOf(dataDir))) return null;
  const root = open({ path: dataDir, maxDbs: 16, compression: false });
  return { schema: root.openDB<unknown, string>({ name: 'meta' }).get('schema_version'), root };
}

/**
 * Snapshot before a migration, or restore after a fallback; `sipregVersion` is recorded with a snapshot.
 * Throws StoreError (ERR_STORE_IN_USE, ERR_STORE_COMPACT) when it should act and cannot.
 */
export async function followSchema(dataDir: string, sipregVersion: string): Promise<SchemaFollow> {
  const found = storeSchema(dataDir);
  if (found === null) return { action: 'none', message: 'no store yet' };
  const { schema, root } = found;
  const shared = (statSync(dataDir).mode & 0o2000) !== 0;
  const umask = process.umask(shared ? 0o007 : 0o077);
  try {
    if (typeof schema === 'number' && schema < SCHEMA_VERSION) {
      // A copy in one read transaction: consistent whoever else has the store open.
      const dir = snapshotDir(dataDir, schema);
      const tmp = `${dir}.tmp`;
      rmSync(tmp, { recursive: true, force: true });
      mkdirSync(tmp, { recursive: true });
      try {
        await root.backup(tmp, true);
        fsyncPath(join(tmp, 'data.mdb'));
      } catch (err) {
        rmSync(tmp, { recursive: true, force: true });
        throw new StoreError('ERR_STORE_COMPACT', `data_dir ${dataDir}: no snapshot of the schema ${schema} store, not converting it (${err instanceof Error ? err.message : String(err)})`);
      }
      const info: SnapshotInfo = { schema, takenAt: new Date().toISOString(), takenBy: sipregVersion };
      writeFileSync(join(tmp, 'snapshot.json'), `${JSON.stringify(info)}\n`);
      rmSync(dir, { recursive: true, force: true });
      renameSync(tmp, dir);
      fsyncPath(join(dataDir, SNAPSHOTS_DIR));
      return { action: 'snapshot', message: `store schema ${schema} kept in ${dir} before sipreg ${sipregVersion} converts it to schema ${SCHEMA_VERSION}` };
    }
    if (typeof schema === 'number' && schema > SCHEMA_VERSION) {
      const mine = snapshotDir(dataDir, SCHEMA_VERSION);
      if (!existsSync(join(mine, 'data.mdb'))) return { action: 'none', message: `store schema ${schema}, no snapshot of schema ${SCHEMA_VERSION}` };
      await root.close();
      refuseIfHeld(dataDir);
      let info: Partial<SnapshotInfo> = {};
      try { info = JSON.parse(readFileSync(join(mine, 'snapshot.json'), 'utf8')) as SnapshotInfo; } catch { /* the data is what counts */ }
      // The newer store is kept: the newer firmware, installed again, can take it back by hand.
      const newer = snapshotDir(dataDir, schema);
      rmSync(newer, { recursive: true, force: true });
      mkdirSync(newer, { recursive: true });
      renameSync(dataFileOf(dataDir), join(newer, 'data.mdb'));
      writeFileSync(join(newer, 'snapshot.json'), `${JSON.stringify({ schema, takenAt: new Date().toISOString(), takenBy: `sipreg ${sipregVersion}, when it restored schema ${SCHEMA_VERSION}` })}\n`);
      const tmp = `${dataFileOf(dataDir)}.restoring`;
      copyFileSync(join(mine, 'data.mdb'), tmp);
      fsyncPath(tmp);
      renameSync(tmp, dataFileOf(dataDir));
      fsyncPath(dataDir);
      return {
        action: 'restored',
        message: `store schema ${schema} is newer than this sipreg ${sipregVersion} understands (${SCHEMA_VERSION}): restored the schema ${SCHEMA_VERSION} ` +
          `snapshot taken ${info.takenAt ?? '(time unknown)'} before ${info.takenBy === undefined ? 'a newer sipreg' : `sipreg ${info.takenBy}`} converted it; ` +
          `bindings and history written since are not in it (phones register again at their next refresh); the schema ${schema} store is kept in ${newer}`,
      };
    }
    return { action: 'none', message: `store schema ${String(schema)}` };
  } finally {
    process.umask(umask);
    await root.close().catch(() => {});
  }
}
