import { CommandError, UsageError } from '../errors.js';
import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { withStore } from '../context.js';
import { BackupError, writeBackup } from '../../ops/backup.js';
import { displayText } from '../../ops/sanitize.js';

/** `sipreg backup FILE`: the store (a consistent compacting copy, the service may run) and the config in force, in one file (ops/backup.ts). */
export const backupCommand: Command = {
  name: 'backup',
  usage: 'FILE',
  summary: 'write the store (a consistent compacted copy, while the service runs) and the config in force to one file',
  options: [DATA_DIR_OPTION],
  async run(ctx) {
    const [file, extra] = ctx.args.positionals;
    if (file === undefined) throw new UsageError('ERR_CLI_ARGUMENT', 'FILE is missing');
    if (extra !== undefined) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${extra}'`);
    return withStore(ctx, async (store) => {
      try {
        const m = await writeBackup(store, ctx.configFile, resolve(file));
        const storeBytes = m.files.find((f) => f.name === 'data.mdb')!.bytes;
        ctx.stdout.write(`${displayText(`wrote ${resolve(file)}: store ${(storeBytes / 1048576).toFixed(1)} MiB (schema ${m.schema}, from ${m.dataDir})` +
          (m.config === null ? ', no config (none readable)' : `, config ${m.config.file}${m.config.inForce ? ` (in force, generation ${String(m.config.generation)})` : ' (not the one in force)'}`))}\n`);
        return 0;
      } catch (err) {
        if (err instanceof BackupError) throw new CommandError('ERR_CLI_BACKUP', err.message);
        if (err instanceof Error && 'code' in err) throw new CommandError('ERR_CLI_FILE', `${file}: cannot write the backup (${String((err as NodeJS.ErrnoException).code)})`);
        throw err;
      }
    });
  },
};
