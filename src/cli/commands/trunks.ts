import { CommandError, UsageError } from '../errors.js';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag } from '../args.js';
import { withStore } from '../context.js';
import { configInForce } from '../../ops/config-follow.js';
import { trunkDetails, trunkJson, trunksTable, trunkViews } from '../../ops/trunks.js';
import { displayText, jsonText } from '../../ops/sanitize.js';

export const trunksCommand: Command = {
  name: 'trunks',
  usage: '[NAME] [--json]',
  summary: 'outbound registration state of each trunk (NAME: that one in full)',
  options: [{ name: 'json', help: 'a JSON array' }, DATA_DIR_OPTION],
  async run(ctx) {
    if (ctx.args.positionals.length > 1) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${ctx.args.positionals[1]}'`);
    const name = ctx.args.positionals[0];
    return withStore(ctx, (store, own) => {
      const nowMs = Date.now();
      // The trunks of the config the running service has in force, not only of the file given.
      const cif = configInForce(store, own, nowMs);
      if (cif.problem !== null) ctx.stderr.write(`sipreg: ${displayText(cif.problem)}\n`);
      const config = cif.config;
      const all = trunkViews(store, config);
      const views = name === undefined ? all : all.filter((v) => v.name === name);
      if (name !== undefined && views.length === 0) throw new CommandError('ERR_CLI_NOT_FOUND', `no trunk ${name} in the config in force`);
      if (optFlag(ctx.args, 'json')) ctx.stdout.write(`${jsonText(views.map((v) => trunkJson(v, config)))}\n`);
      else if (views.length === 0) ctx.stdout.write('no trunks configured\n');
      else if (name !== undefined) ctx.stdout.write(`${trunkDetails(views[0]!, config, nowMs).join('\n')}\n`);
      else ctx.stdout.write(`${trunksTable(views, nowMs).join('\n')}\n`);
      return 0;
    });
  },
};
