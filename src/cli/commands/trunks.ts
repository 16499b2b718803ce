import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag } from '../args.js';
import { withStore } from '../context.js';
import { noPositionals } from './list.js';
import { trunkJson, trunksTable, trunkViews } from '../../console/trunks.js';
import { jsonText } from '../../ops/sanitize.js';

export const trunksCommand: Command = {
  name: 'trunks',
  usage: '[--json]',
  summary: 'outbound registration state of each trunk',
  options: [{ name: 'json', help: 'a JSON array' }, DATA_DIR_OPTION],
  async run(ctx) {
    noPositionals(ctx.args);
    return withStore(ctx, (store, config) => {
      const views = trunkViews(store, config);
      if (optFlag(ctx.args, 'json')) ctx.stdout.write(`${jsonText(views.map((v) => trunkJson(v, config)))}\n`);
      else if (views.length === 0) ctx.stdout.write('no trunks configured\n');
      else ctx.stdout.write(`${trunksTable(views, Date.now()).join('\n')}\n`);
      return 0;
    });
  },
};
