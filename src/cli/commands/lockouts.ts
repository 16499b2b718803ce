import { CommandError, UsageError } from '../errors.js';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag } from '../args.js';
import { withStore } from '../context.js';
import { lockoutDetails, lockoutJson, lockoutsTable } from '../../ops/history.js';
import { activeLockouts } from '../../store/index.js';
import { jsonText } from '../../ops/sanitize.js';

export const lockoutsCommand: Command = {
  name: 'lockouts',
  usage: '[IP|NUMBER] [--json]',
  summary: 'suspended numbers and addresses (IP or NUMBER: those in full)',
  options: [{ name: 'json', help: 'a JSON array' }, DATA_DIR_OPTION],
  async run(ctx) {
    if (ctx.args.positionals.length > 1) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${ctx.args.positionals[1]}'`);
    const target = ctx.args.positionals[0];
    return withStore(ctx, (store) => {
      const nowMs = Date.now();
      const lockouts = activeLockouts(store, nowMs).filter((l) => target === undefined || l.address === target || l.number === target);
      if (target !== undefined && lockouts.length === 0) throw new CommandError('ERR_CLI_NOT_FOUND', `no active suspension names ${target}`);
      if (optFlag(ctx.args, 'json')) ctx.stdout.write(`${jsonText(lockouts.map((l) => lockoutJson(l, nowMs)))}\n`);
      else if (lockouts.length === 0) ctx.stdout.write('no active lockouts\n');
      else if (target !== undefined) ctx.stdout.write(`${lockouts.map((l) => lockoutDetails(l, nowMs).join('\n')).join('\n\n')}\n`);
      else ctx.stdout.write(`${lockoutsTable(lockouts, nowMs).join('\n')}\n`);
      return 0;
    });
  },
};
