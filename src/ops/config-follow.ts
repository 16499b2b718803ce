/**
 * The config the running service has in force, for the console and the admin commands.
 * The service records it in the store (store/config-record.ts: generation, SHA-256, path, time) at start
 * and after each reload. A reader that loaded a config itself follows that record: when the service's
 * generation is not the one it shows, it reads the file the service names and uses it if its bytes are
 * still the ones the service parsed. When they are not (the file changed again, or is gone), what the
 * service uses cannot be known from disk, and `problem` says so for the status line rather than the
 * screens quietly showing another config.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { parseConfigText, parseConfigTextForReading } from '../config/index.js';
import { fileSha256, sha256Hex } from '../config/fingerprint.js';
import type { Account, Config } from '../config/types.js';
import { readConfigRecord, readService, serviceRunning, type ConfigRecord, type Store } from '../store/index.js';
import { formatClock } from './format.js';

export interface ConfigInForce {
  /** What the screens use: the service's config when known, else the last one known. */
  readonly config: Config;
  /** The service's record `config` is; null when no service is running (then `config` is the reader's own file). */
  readonly record: ConfigRecord | null;
  /** Why the screens may not show the config the service uses (one line); null when they do. */
  readonly problem: string | null;
}

export class ConfigFollower {
  private config: Config;
  private followed: ConfigRecord | null = null;
  /** The hash of the reader's own file when it started: a service running that same content needs no re-read. */
  private readonly ownSha256: string | null;

  constructor(private readonly store: Store, private readonly own: Config) {
    this.config = own;
    this.ownSha256 = fileSha256(own.file);
  }

  /** Reads the service's record (cheap) and, when its generation changed, the file it names. */
  current(nowMs: number): ConfigInForce {
    const rec = readConfigRecord(this.store);
    if (rec === null || !serviceRunning(readService(this.store), nowMs)) {
      // No running service: nothing to follow; the file given is what a start would read.
      return { config: this.config, record: null, problem: null };
    }
    if (this.followed !== null && this.followed.generation === rec.generation && this.followed.sha256 === rec.sha256) {
      return { config: this.config, record: this.followed, problem: null };
    }
    if (this.followed === null && rec.file === this.own.file && rec.sha256 === this.ownSha256) {
      this.followed = rec;
      this.config = this.own;
      return { config: this.config, record: rec, problem: null };
    }
    const loaded = this.load(rec);
    if (typeof loaded === 'string') return { config: this.config, record: this.followed, problem: loaded };
    this.followed = rec;
    this.config = loaded;
    return { config: loaded, record: rec, problem: null };
  }

  private load(rec: ConfigRecord): Config | string {
    const name = basename(rec.file);
    const gen = `gen ${rec.generation}, ${formatClock(rec.loadedAtMs)}`;
    let bytes: Buffer;
    try {
      bytes = readFileSync(rec.file);
    } catch (err) {
      return `CONFIG: cannot read ${name} (${(err as { code?: string }).code ?? 'error'}), which the service loaded (${gen})`;
    }
    if (sha256Hex(bytes) !== rec.sha256) return `CONFIG: ${name} changed after the service loaded it (${gen}); reload`;
    // A reader that left its own accounts out leaves the service's out too.
    const parsed = this.own.accountsOmitted === true ? parseConfigTextForReading(bytes.toString('utf8'), rec.file) : parseConfigText(bytes.toString('utf8'), rec.file);
    if (parsed.config === null) return `CONFIG: ${name}, which the service loaded (${gen}), does not load here`;
    // The store is the one this reader opened (--data-dir may differ from the file's data_dir).
    return { ...parsed.config, dataDir: this.own.dataDir };
  }
}

let accountsRead: { file: string; sha256: string | null; accounts: readonly Account[] } | null = null;

/** The accounts of the config in force, read from its file when the reader left them out (cached by the
 *  file's hash, so a screen refreshed reads 10,000 accounts once); empty when the file no longer loads. */
export function accountsInForce(cif: ConfigInForce): readonly Account[] {
  if (cif.config.accountsOmitted !== true) return cif.config.accounts;
  const file = cif.record?.file ?? cif.config.file;
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return [];
  }
  const sha256 = sha256Hex(bytes);
  if (accountsRead === null || accountsRead.file !== file || accountsRead.sha256 !== sha256) {
    accountsRead = { file, sha256, accounts: parseConfigText(bytes.toString('utf8'), file).draft?.accounts ?? [] };
  }
  return accountsRead.accounts;
}

/** The one-shot form, for an admin command. */
export function configInForce(store: Store, own: Config, nowMs: number): ConfigInForce {
  return new ConfigFollower(store, own).current(nowMs);
}
