/**
 * Factory reset: the box as it left the factory. With no process having the store open
 * (like restore): every entry of data_dir removed (the store and anything beside it; the directory
 * itself stays, with the mode and owner systemd gave it), the config replaced by the factory config
 * (on the appliance /usr/share/sipreg/etc/sipreg.yaml, the file the first boot copied; elsewhere the
 * file named, or none: then the config is left as it is and the caller says so), every kept version and
 * the push history removed (they hold passwords), and a marker `factory-reset` beside the config: on the
 * appliance the next boot's ssh-hostkey (image/rootfs/usr/libexec/sipreg/ssh-hostkey) makes new SSH
 * host keys and removes it. Elsewhere nothing reads it.
 */
import { existsSync, lstatSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { parseConfigText } from '../config/index.js';
import { replaceFileAtomic } from './atomic-file.js';
import { BackupError, refuseWhileOpen } from './backup.js';
import { forgetVersions } from './config-versions.js';
import { STORE_FILE } from '../store/lease.js';

export const FACTORY_CONFIG = '/usr/share/sipreg/etc/sipreg.yaml';
export const FACTORY_RESET_CONFIRMATION = 'factory reset';
export const FACTORY_RESET_MARKER = 'factory-reset';

export interface ResetOutcome {
  readonly removed: number;
  /** The factory config put in place, or null when there was none to put. */
  readonly factoryConfig: string | null;
  readonly marker: string | null;
}

/** Whether `inner` is `outer` or inside it. */
function within(inner: string, outer: string): boolean {
  const r = relative(resolve(outer), resolve(inner));
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** Checks what a reset would do, before anything is touched; throws BackupError with the reason. */
function refuseUnsafe(dataDir: string, configFile: string, factoryConfig: string | null): void {
  if (resolve(dataDir) === '/') throw new BackupError('data_dir is /: factory reset refused');
  if (within(dirname(configFile), dataDir)) throw new BackupError(`the config ${configFile} is inside data_dir ${dataDir}: factory reset refused (it would empty the config's directory)`);
  let entries: string[] = [];
  try {
    entries = readdirSync(dataDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new BackupError(`data_dir ${dataDir}: cannot read (${(err as NodeJS.ErrnoException).code})`);
  }
  // Emptying a directory that is not sipreg's (a data_dir typed wrong) would be a disaster: only one with a store, or empty.
  if (entries.length > 0 && !entries.includes(STORE_FILE)) {
    throw new BackupError(`data_dir ${dataDir} holds no sipreg store (${STORE_FILE}) but other files: not emptied, factory reset refused`);
  }
  if (factoryConfig !== null) {
    const problems = parseConfigText(readFileSync(factoryConfig, 'utf8'), factoryConfig).problems;
    if (problems.length > 0) throw new BackupError(`the factory config ${factoryConfig} does not pass sipreg check (${problems.length} problem(s)): factory reset refused`);
  }
}

/**
 * Resets. `factoryConfig`: the file to put in place of the config, null for none (then the config stays).
 * Throws BackupError (nothing touched) while the store is open or when the reset would be unsafe.
 */
export function factoryReset(dataDir: string, configFile: string, factoryConfig: string | null, nowMs = Date.now()): ResetOutcome {
  refuseWhileOpen(dataDir, 'sipreg factory-reset');
  refuseUnsafe(dataDir, configFile, factoryConfig);
  let removed = 0;
  if (existsSync(dataDir)) {
    for (const name of readdirSync(dataDir)) {
      rmSync(join(dataDir, name), { recursive: true, force: true });
      removed++;
    }
  }
  let marker: string | null = null;
  if (factoryConfig !== null) {
    replaceFileAtomic(configFile, readFileSync(factoryConfig));
    forgetVersions(configFile);
    marker = join(dirname(configFile), FACTORY_RESET_MARKER);
    // Replaced, never written through: a link planted there is not followed.
    try { if (lstatSync(marker).isSymbolicLink()) rmSync(marker); } catch { /* none */ }
    replaceFileAtomic(marker, Buffer.from(`${new Date(nowMs).toISOString()}\n`), 0o640);
  }
  return { removed, factoryConfig, marker };
}
