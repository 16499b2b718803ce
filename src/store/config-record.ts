import type { Store } from './env.js';

/**
 * The config the running service has in force, kept in `meta` under CONFIG_META_KEY:
 * written at start and after every successful reload, so the console and the admin commands show what
 * the service uses rather than what they read themselves. `generation` grows by one each time (across
 * restarts too); `sha256` is of the file's bytes as the service parsed them.
 */
export interface ConfigRecord {
  generation: number;
  sha256: string;
  file: string;
  loadedAtMs: number;
  pid: number;
}

export const CONFIG_META_KEY = 'config';

export function readConfigRecord(store: Store): ConfigRecord | null {
  return (store.meta.get(CONFIG_META_KEY) as ConfigRecord | undefined) ?? null;
}

/** Records `file` (with its hash) as in force, one generation after the stored one; resolves with the record once committed. */
export async function recordConfigInForce(store: Store, file: string, sha256: string, nowMs: number): Promise<ConfigRecord> {
  const rec: ConfigRecord = { generation: (readConfigRecord(store)?.generation ?? 0) + 1, sha256, file, loadedAtMs: nowMs, pid: process.pid };
  await store.meta.put(CONFIG_META_KEY, rec);
  return rec;
}

/**
 * The last config the service refused to put in force (invalid, unreadable, a `sip.listen` address it
 * cannot bind, a part that failed to take it), kept in `meta` under CONFIG_REFUSED_META_KEY: what
 * `sipreg config apply` watches besides the record above, so a refused push is known at once rather
 * than after its timeout. `sha256` is of the bytes refused ('' when the file could not be read).
 */
export interface ConfigRefusal {
  sha256: string;
  file: string;
  reason: string;
  atMs: number;
  pid: number;
}

export const CONFIG_REFUSED_META_KEY = 'config_refused';

export function readConfigRefusal(store: Store): ConfigRefusal | null {
  return (store.meta.get(CONFIG_REFUSED_META_KEY) as ConfigRefusal | undefined) ?? null;
}

export async function recordConfigRefused(store: Store, file: string, sha256: string, reason: string, nowMs: number): Promise<void> {
  const rec: ConfigRefusal = { sha256, file, reason, atMs: nowMs, pid: process.pid };
  await store.meta.put(CONFIG_REFUSED_META_KEY, rec);
}
