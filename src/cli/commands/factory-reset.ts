import { CommandError, UsageError } from '../errors.js';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optString } from '../args.js';
import { dataDirOf, missingConfig } from '../context.js';
import { parseConfigText } from '../../config/index.js';
import { BackupError } from '../../ops/backup.js';
import { FACTORY_CONFIG, FACTORY_RESET_CONFIRMATION, factoryReset } from '../../ops/factory-reset.js';
import { displayText } from '../../ops/sanitize.js';

/** `sipreg factory-reset --confirm "factory reset"`: data and pushed config gone, the factory config back (ops/factory-reset.ts). */
export const factoryResetCommand: Command = {
  name: 'factory-reset',
  usage: '--confirm "factory reset"',
  summary: 'empty data_dir, put the factory config back, forget kept config versions (service stopped); new SSH host keys at the next boot on the appliance',
  options: [
    { name: 'confirm', value: 'TEXT', help: `the words "${FACTORY_RESET_CONFIRMATION}", typed in full` },
    { name: 'factory-config', value: 'FILE', help: `the config to put back (default ${FACTORY_CONFIG}, the appliance's)` },
    DATA_DIR_OPTION,
  ],
  async run(ctx) {
    if (ctx.args.positionals.length > 0) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${ctx.args.positionals[0]}'`);
    if (optString(ctx.args, 'confirm') !== FACTORY_RESET_CONFIRMATION) {
      throw new CommandError('ERR_CLI_NOT_CONFIRMED', `nothing done: this erases every binding, the history and the pushed config; to go on, type ` +
        `sipreg factory-reset --confirm "${FACTORY_RESET_CONFIRMATION}"`);
    }
    const missing = missingConfig(ctx);
    if (missing !== null) throw new CommandError('ERR_CLI_NO_CONFIG', missing);
    // The data_dir even of a config that no longer passes check: a reset is what such a box may need.
    const current = parseConfigText(readFileSync(ctx.configFile, 'utf8'), ctx.configFile).draft;
    if (current === null) throw new CommandError('ERR_CLI_CONFIG_INVALID', `${ctx.configFile}: cannot read its data_dir; name it with --data-dir DIR`);
    const dataDir = dataDirOf(ctx, current);
    const named = optString(ctx.args, 'factory-config');
    if (named !== undefined && !existsSync(named)) throw new CommandError('ERR_CLI_FILE', `no factory config at ${named}: nothing done`);
    const factory = named ?? (existsSync(FACTORY_CONFIG) ? FACTORY_CONFIG : null);
    try {
      const r = factoryReset(dataDir, ctx.configFile, factory);
      ctx.stdout.write(`${displayText(`emptied ${dataDir} (${r.removed} entr${r.removed === 1 ? 'y' : 'ies'} removed)`)}\n`);
      if (r.factoryConfig === null) {
        ctx.stdout.write(`${displayText(`no factory config at ${FACTORY_CONFIG} (not the appliance): ${ctx.configFile} is left as it is; name one with --factory-config FILE`)}\n`);
      } else {
        ctx.stdout.write(`${displayText(`${ctx.configFile} is the factory config again (from ${r.factoryConfig}); kept versions and push history removed`)}\n`);
        ctx.stdout.write(`${displayText(`marker ${r.marker!}: on the appliance the next boot makes new SSH host keys`)}\n`);
      }
      ctx.stdout.write('start the service (systemctl start sipreg), or reboot the appliance\n');
      return 0;
    } catch (err) {
      if (err instanceof BackupError) throw new CommandError('ERR_CLI_BACKUP', err.message);
      throw err;
    }
  },
};
