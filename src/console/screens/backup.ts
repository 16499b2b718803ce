/** Console: Backup: the store and the config in force to one file, while the service runs (ops/backup.ts). */
import { isAbsolute, join, resolve } from 'node:path';
import { BackupError, writeBackup } from '../../ops/backup.js';
import { cut, wrap } from '../../ops/format.js';
import type { ScreenContext } from './context.js';

function stamp(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '').replace('T', '-');
}

export async function backupScreen(c: ScreenContext): Promise<string | void> {
  const configFile = c.config().file; // as in force when the screen opens
  const defaultPath = join(process.cwd(), `sipreg-backup-${stamp(c.now())}.tar`);
  const answer = await c.ui.prompt({
    title: 'Backup',
    body: ['A consistent copy of the store (bindings, history, lockouts, trunk state) and',
      'the config in force, in one file: sipreg restore FILE (or 11 Restore) puts it back.',
      'The service keeps running.', '', 'Default file:', ...wrap(defaultPath, 78, '  ')],
    menu: [],
  }, 'File (Enter = default, 0 = cancel): ');
  if (answer === null) return 'Backup cancelled.';
  const path = answer === '' ? defaultPath : isAbsolute(answer) ? answer : resolve(answer);
  try {
    const m = await writeBackup(c.store, configFile, path, c.now());
    const bytes = m.files.find((f) => f.name === 'data.mdb')!.bytes;
    await c.ui.pause({ title: 'Backup', body: ['Wrote', ...wrap(path, 78, '  '),
      `store ${(bytes / 1048576).toFixed(1)} MiB (schema ${m.schema})` + (m.config === null ? ', no config' : `, config ${m.config.inForce ? 'in force' : 'as on disk'}`)], menu: [] });
    return cut(`Backup written to ${path}`, 80);
  } catch (err) {
    return cut(`Backup failed: ${err instanceof BackupError || err instanceof Error ? err.message : String(err)}`, 80);
  }
}
