import type { Store } from './env.js';
import type { CommandRecord } from './records.js';
import { timeKey } from './keys.js';

/** Queues an operator request for the running service (it polls `commands` every second). */
export function postCommand(store: Store, cmd: CommandRecord): Promise<boolean> {
  return store.commands.put(timeKey(cmd.atMs), cmd);
}

/**
 * Takes the oldest requests, at most `countMax`, for the caller to run: each is deleted in one write
 * transaction that reads it there first, and only what this call deleted is returned, once that
 * transaction is committed. So a request runs at most once: two polls of one service, or
 * two processes, serialize on LMDB's write lock and the second finds it gone; a crash before the
 * commit leaves it queued but not yet run, a crash after it loses it rather than running it twice.
 */
export async function takeCommands(store: Store, countMax: number): Promise<CommandRecord[]> {
  // A read first: no write transaction (and no commit to disk) when nothing is queued, every second.
  if (store.commands.getKeysCount({ limit: 1 }) === 0) return [];
  return store.root.transaction(() => {
    const entries = [...store.commands.getRange({ limit: countMax })];
    for (const { key } of entries) store.commands.remove(key);
    return entries.map((e) => e.value);
  });
}
