import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag } from '../args.js';
import { withStore } from '../context.js';
import { noPositionals } from './list.js';
import { lockoutJson, lockoutsTable } from '../../console/history.js';
import { activeLockouts } from '../../store/index.js';
import { jsonText } from '../../ops/sanitize.js';

export const lockoutsCommand: Command = {
  name: 'lockouts',
  usage: '[--json]',
  summary: 'suspended numbers and addresses, soonest to end first',
  options: [{ name: 'json', help: 'a JSON array' }, DATA_DIR_OPTION],
  async run(ctx) {
    noPositionals(ctx.args);
    return withStore(ctx, (store) => {
      const nowMs = Date.now();
      const lockouts = activeLockouts(store, nowMs);
      if (optFlag(ctx.args, 'json')) ctx.stdout.write(`${jsonText(lockouts.map((l) => lockoutJson(l, nowMs)))}\n`);
      else if (lockouts.length === 0) ctx.stdout.write('no active lockouts\n');
      else ctx.stdout.write(`${lockoutsTable(lockouts, nowMs).join('\n')}\n`);
      return 0;
    });
  },
};
