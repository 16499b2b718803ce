/**
 * Console: Restore: a backup's store, and optionally its config, in place of this box's
 * (ops/backup.ts). Only with the service stopped; the console closes its own store for it and ends.
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { parseConfigText } from '../../config/index.js';
import { sha256Hex } from '../../config/fingerprint.js';
import { replaceFileAtomic } from '../../ops/atomic-file.js';
import { backupConfig, BackupError, openBackup, restoreStore } from '../../ops/backup.js';
import { appendHistory, keepVersion, nextPushNumber } from '../../ops/config-versions.js';
import { readService, serviceRunning } from '../../store/index.js';
import { cut, wrap } from '../../ops/format.js';
import type { ScreenContext } from './context.js';

export async function restoreScreen(c: ScreenContext): Promise<string | void> {
  const configFile = c.config().file; // read before the store closes
  const base = {
    title: 'Restore',
    body: ['Replaces ALL bindings, history and lockouts with those of a backup (sipreg',
      'backup, or 10 Backup). The service must be stopped; the console ends afterwards.'],
    menu: [],
  };
  const answer = await c.ui.prompt(base, 'Backup file (0 = cancel): ');
  if (answer === null || answer === '') return 'Restore cancelled.';
  const path = isAbsolute(answer) ? answer : resolve(answer);
  let b;
  try {
    b = openBackup(path);
  } catch (err) {
    return cut(`Not restored: ${err instanceof Error ? err.message : String(err)}`, 80);
  }
  try {
    c.store.root.resetReadTxn();
    if (serviceRunning(readService(c.store), c.now())) {
      return 'Not restored: the service is running. Stop it first (systemctl stop sipreg).';
    }
    const m = b.manifest;
    const config = backupConfig(b);
    const about = [...base.body, '', ...wrap(`${path}: from ${m.dataDir} on ${m.host}, ${m.createdAt}, sipreg ${m.sipregVersion}, store schema ${m.schema}.`, 78, '  ')];
    let withConfig = false;
    if (config !== null) {
      const w = await c.ui.prompt({ ...base, body: about }, 'Also put its config in place? 1 yes, Enter no (0 = cancel): ');
      if (w === null) return 'Restore cancelled.';
      withConfig = w === '1';
      if (withConfig && parseConfigText(config.toString('utf8'), configFile).config === null) {
        return 'Not restored: the backup\'s config does not pass sipreg check here.';
      }
    }
    const confirm = await c.ui.prompt({ ...base, body: about }, 'Type restore to replace the store (anything else cancels): ');
    if (confirm !== 'restore') return 'Restore cancelled: nothing changed.';
    await c.store.close();
    let text: string;
    try {
      const { bytes } = restoreStore(b, c.store.dataDir);
      text = `Restored the store in ${c.store.dataDir} (${(bytes / 1048576).toFixed(1)} MiB).`;
      if (withConfig && config !== null) {
        const file = configFile;
        const before = readFileSync(file);
        const n = nextPushNumber(file);
        keepVersion(file, n, before, statSync(file).mode & 0o7777);
        replaceFileAtomic(file, config);
        appendHistory(file, { n, atMs: c.now(), from: `restore ${path}`, sha256: sha256Hex(config), previousSha256: sha256Hex(before),
          result: 'installed', reason: 'the service was stopped: in force from its next start', generation: 0 });
        text += ` Its config is in ${file} (the previous one kept as version ${n}).`;
      }
    } catch (err) {
      text = `Not restored: ${err instanceof BackupError || err instanceof Error ? err.message : String(err)}.`;
    }
    return c.leave(`${text} Start the service (systemctl start sipreg). The console ends here.`);
  } finally {
    b.close();
  }
}
