/**
 * A config push that cannot leave the box without phones: `sipreg config apply`, `config
 * rollback` and a restore's config all come here. The new bytes (already validated by the caller) are
 * installed atomically after the current file is kept as a numbered version; the running service is
 * asked to reload (the store's operator command, what the console's reload writes: it works for any
 * user who may open the store, admin on the appliance included, and needs no signal permission); then
 * the service's own record decides: its config record showing the pushed SHA-256 in a newer
 * generation is success, its refusal record naming that SHA-256 (invalid, a listen address it cannot
 * bind) is failure at once, and so are the service stopping and the timeout. On failure the previous
 * bytes go back the same way and the service is asked to reload them. Every push ends as one line of
 * the history (config-versions.ts).
 */
import { lstatSync, readFileSync, realpathSync } from 'node:fs';
import { boundedTimeout } from '../timers.js';
import { sha256Hex } from '../config/fingerprint.js';
import { loadConfig, parseConfigText } from '../config/index.js';
import type { Config } from '../config/types.js';
import {
  openStore, postCommand, readConfigRecord, readConfigRefusal, readService, serviceRunning, type Store,
} from '../store/index.js';
import { replaceFileAtomic } from './atomic-file.js';
import { appendHistory, keepVersion, lockPushes, nextPushNumber, type PushEntry } from './config-versions.js';
import { STORE_FILE } from '../store/lease.js';
import { join, resolve } from 'node:path';

const POLL_MS = 100;

function realPath(file: string): string {
  try { return realpathSync(file); } catch { return resolve(file); }
}

/** Nothing was changed, for the reason given (one line). */
export class PushRefused extends Error {}

export interface PushRequest {
  readonly configFile: string;
  /** The new config's bytes, valid (the caller ran the same check as `sipreg check`). */
  readonly bytes: Buffer;
  /** For the history: `apply FILE`, `rollback to N`, ... */
  readonly from: string;
  readonly timeoutMs: number;
  /** The service's data_dir when it runs with --data-dir; default the config's. */
  readonly dataDir?: string | undefined;
  /** Progress lines for the operator. */
  readonly say: (line: string) => void;
}

export interface PushOutcome {
  readonly entry: PushEntry;
  /** Where the replaced config was kept. */
  readonly keptAs: string;
  /** Things to know about an applied push (a listen change waits for a restart ...). */
  readonly notes: readonly string[];
}

type Wait = { ok: true; generation: number } | { ok: false; reason: string };

/** The config the file holds now: its bytes, mode and parsed form (data_dir is where the service's store is). */
function current(configFile: string): { bytes: Buffer; mode: number; config: Config } {
  let bytes: Buffer;
  let mode: number;
  try {
    const st = lstatSync(configFile);
    if (!st.isFile()) throw new PushRefused(`${configFile} is not a regular file (a symlink?): replace it by hand once, then push`);
    mode = st.mode & 0o7777;
    bytes = readFileSync(configFile);
  } catch (err) {
    if (err instanceof PushRefused) throw err;
    throw new PushRefused(`no config to replace at ${configFile} (${(err as NodeJS.ErrnoException).code ?? String(err)}): a push replaces the config of a running service`);
  }
  const config = parseConfigText(bytes.toString('utf8'), configFile).draft;
  if (config === null) throw new PushRefused(`${configFile}: cannot read the current config's data_dir`);
  return { bytes, mode, config };
}

function openServiceStore(dataDir: string): Store {
  try {
    lstatSync(join(dataDir, STORE_FILE));
    return openStore(dataDir);
  } catch (err) {
    throw new PushRefused(`the service is not running: no store in ${dataDir} (${(err as Error).message}); nothing could confirm the push, the config is unchanged`);
  }
}

/** Waits until the service confirms `sha256` in a generation after `afterGeneration`, refuses it, stops, or time runs out. */
async function waitForService(store: Store, sha256: string, afterGeneration: number, sinceMs: number, timeoutMs: number): Promise<Wait> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    store.root.resetReadTxn();
    const rec = readConfigRecord(store);
    if (rec !== null && rec.generation > afterGeneration && rec.sha256 === sha256) return { ok: true, generation: rec.generation };
    const refused = readConfigRefusal(store);
    if (refused !== null && refused.atMs >= sinceMs && refused.sha256 === sha256) return { ok: false, reason: `the service refused it: ${refused.reason}` };
    if (!serviceRunning(readService(store), Date.now())) return { ok: false, reason: 'the service stopped during the push' };
    if (Date.now() >= deadline) return { ok: false, reason: `the service did not confirm it within ${Math.round(timeoutMs / 1000)} s` };
    await new Promise<void>((r) => boundedTimeout(r, POLL_MS));
  }
}

/**
 * Whether the service of `configFile` runs (a live heartbeat in its store), waiting up to `timeoutMs` for
 * it: a push dropped on a box that is still starting (the drop-box unit is not ordered after the service,
 * so a reload in progress never holds it up) waits for the service instead of being refused at once.
 */
export async function serviceComesUp(configFile: string, dataDir: string | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const dir = dataDir ?? current(configFile).config.dataDir;
      lstatSync(join(dir, STORE_FILE));
      const store = openStore(dir);
      try {
        if (serviceRunning(readService(store), Date.now())) return true;
      } finally {
        await store.close();
      }
    } catch { /* no config or no store yet: the service has not started */ }
    if (Date.now() >= deadline) return false;
    await new Promise<void>((r) => boundedTimeout(r, 1_000));
  }
}

async function askReload(store: Store): Promise<void> {
  await postCommand(store, { atMs: Date.now(), type: 'reload', arg: '' });
}

/** Pushes `req.bytes`; resolves with the history entry (applied or rolled back); throws PushRefused when nothing was changed. */
export async function pushConfig(req: PushRequest): Promise<PushOutcome> {
  const before = current(req.configFile);
  const dataDir = req.dataDir ?? before.config.dataDir;
  const store = openServiceStore(dataDir);
  try {
    if (!serviceRunning(readService(store), Date.now())) {
      throw new PushRefused(`the service is not running (no live heartbeat in ${dataDir}): nothing could confirm the push, ` +
        'the config is unchanged; start it (systemctl start sipreg) and push again');
    }
    const running = readConfigRecord(store);
    if (running !== null && realPath(running.file) !== realPath(req.configFile)) {
      throw new PushRefused(`the service on ${dataDir} runs ${running.file}, not ${req.configFile}: push to that file (-c ${running.file}); the config is unchanged`);
    }
    const release = lockPushes(req.configFile);
    try {
      const n = nextPushNumber(req.configFile);
      const keptAs = keepVersion(req.configFile, n, before.bytes, before.mode);
      const sha256 = sha256Hex(req.bytes);
      const previousSha256 = sha256Hex(before.bytes);
      const notes = changeNotes(before.config, parseConfigText(req.bytes.toString('utf8'), req.configFile).draft);
      const entry = (result: PushEntry['result'], reason: string, generation: number): PushEntry => ({
        n, atMs: Date.now(), from: req.from, sha256, previousSha256, result, reason, generation,
      });
      store.root.resetReadTxn();
      const startGeneration = readConfigRecord(store)?.generation ?? 0;
      const sinceMs = Date.now();
      replaceFileAtomic(req.configFile, req.bytes);
      req.say(`installed ${req.configFile} (sha256 ${sha256.slice(0, 12)}; the previous one kept as ${keptAs}); waiting for the service`);
      await askReload(store);
      const waited = await waitForService(store, sha256, startGeneration, sinceMs, req.timeoutMs);
      if (waited.ok) {
        const done = entry('applied', notes.join('; '), waited.generation);
        appendHistory(req.configFile, done);
        return { entry: done, keptAs, notes };
      }
      // Back to what ran before, the same way.
      req.say(`not applied: ${waited.reason}; putting the previous config back`);
      store.root.resetReadTxn();
      const backGeneration = readConfigRecord(store)?.generation ?? 0;
      const backSince = Date.now();
      replaceFileAtomic(req.configFile, before.bytes);
      let back: string;
      if (serviceRunning(readService(store), Date.now())) {
        await askReload(store);
        const again = await waitForService(store, previousSha256, backGeneration, backSince, req.timeoutMs);
        back = again.ok ? `the previous config is back in force (generation ${again.generation})` : `the previous config is back in the file, but ${again.reason}`;
      } else {
        back = 'the previous config is back in the file for the service\'s next start';
      }
      store.root.resetReadTxn();
      const done = entry('rolled back', `${waited.reason}; ${back}`, readConfigRecord(store)?.generation ?? 0);
      appendHistory(req.configFile, done);
      return { entry: done, keptAs, notes };
    } finally {
      release();
    }
  } finally {
    await store.close();
  }
}

/** What an applied push changes only at the next restart. */
function changeNotes(before: Config, after: Config | null): string[] {
  if (after === null) return [];
  const notes: string[] = [];
  if (after.sip.listen.map((l) => l.text).join() !== before.sip.listen.map((l) => l.text).join()) {
    notes.push(`sip.listen changes to ${after.sip.listen.map((l) => l.text).join(' ')} at the service's next restart (the service checked that it can bind it)`);
  }
  if (after.dataDir !== before.dataDir) notes.push(`data_dir changes to ${after.dataDir} at the service's next restart (the bindings stay in ${before.dataDir})`);
  return notes;
}

/** The check `sipreg check` makes, for the bytes of a push: problems named after `label`. */
export function checkPushed(bytes: Buffer, label: string): ReturnType<typeof loadConfig> {
  return parseConfigText(bytes.toString('utf8'), label);
}
