import { CommandError, UsageError } from '../errors.js';
import { readFileSync, statSync } from 'node:fs';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag } from '../args.js';
import { dataDirOf, missingConfig } from '../context.js';
import { formatProblem, parseConfigText } from '../../config/index.js';
import { sha256Hex } from '../../config/fingerprint.js';
import { backupConfig, BackupError, openBackup, restoreStore } from '../../ops/backup.js';
import { replaceFileAtomic } from '../../ops/atomic-file.js';
import { appendHistory, keepVersion, nextPushNumber } from '../../ops/config-versions.js';
import { displayText } from '../../ops/sanitize.js';

/** `sipreg restore FILE`: a backup's store (and with --with-config its config) in place, the service stopped. */
export const restoreCommand: Command = {
  name: 'restore',
  usage: 'FILE [--with-config]',
  summary: 'replace the store with a backup\'s (service stopped; manifest, checksums and schema checked), optionally its config too',
  options: [
    { name: 'with-config', help: 'also put the backup\'s config in place of the config file (the current one is kept as a version: sipreg config history)' },
    DATA_DIR_OPTION,
  ],
  async run(ctx) {
    const [file, extra] = ctx.args.positionals;
    if (file === undefined) throw new UsageError('ERR_CLI_ARGUMENT', 'FILE is missing');
    if (extra !== undefined) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${extra}'`);
    const missing = missingConfig(ctx);
    if (missing !== null) throw new CommandError('ERR_CLI_NO_CONFIG', missing);
    const current = parseConfigText(readFileSync(ctx.configFile, 'utf8'), ctx.configFile).draft;
    if (current === null) throw new CommandError('ERR_CLI_CONFIG_INVALID', `${ctx.configFile}: cannot read its data_dir; name the store with --data-dir DIR`);
    const dataDir = dataDirOf(ctx, current);
    try {
      const b = openBackup(file);
      try {
        const m = b.manifest;
        ctx.stdout.write(`${displayText(`${file}: sipreg backup of ${m.dataDir} on ${m.host}, ${m.createdAt}, sipreg ${m.sipregVersion}, store schema ${m.schema}`)}\n`);
        let config: Buffer | null = null;
        if (optFlag(ctx.args, 'with-config')) {
          config = backupConfig(b);
          if (config === null) throw new CommandError('ERR_CLI_BACKUP', `${file} holds no config: nothing changed (restore without --with-config)`);
          const checked = parseConfigText(config.toString('utf8'), ctx.configFile);
          if (checked.config === null) {
            for (const p of checked.problems) ctx.stderr.write(`${formatProblem(p)}\n`);
            throw new CommandError('ERR_CLI_BACKUP', `${file}: its config does not pass sipreg check here: nothing changed`);
          }
        }
        const { bytes } = restoreStore(b, dataDir);
        ctx.stdout.write(`restored the store in ${dataDir} (${(bytes / 1048576).toFixed(1)} MiB)\n`);
        if (config !== null) {
          const before = readFileSync(ctx.configFile);
          const n = nextPushNumber(ctx.configFile);
          const keptAs = keepVersion(ctx.configFile, n, before, statSync(ctx.configFile).mode & 0o7777);
          replaceFileAtomic(ctx.configFile, config);
          appendHistory(ctx.configFile, {
            n, atMs: Date.now(), from: `restore ${file}`, sha256: sha256Hex(config), previousSha256: sha256Hex(before),
            result: 'installed', reason: 'the service was stopped: in force from its next start', generation: 0,
          });
          ctx.stdout.write(`${displayText(`restored the config in ${ctx.configFile} (the previous one kept as ${keptAs})`)}\n`);
        }
        ctx.stdout.write('start the service: systemctl start sipreg\n');
        return 0;
      } finally {
        b.close();
      }
    } catch (err) {
      if (err instanceof BackupError) throw new CommandError('ERR_CLI_BACKUP', `${err.message}; nothing changed`);
      throw err;
    }
  },
};
