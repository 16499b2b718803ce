import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { withStore } from '../context.js';
import { noPositionals } from './list.js';
import { runConsole } from '../../console/index.js';

export const consoleCommand: Command = {
  name: 'console',
  usage: '',
  summary: 'the text-menu operator console (serial line or SSH)',
  options: [DATA_DIR_OPTION],
  async run(ctx) {
    noPositionals(ctx.args);
    return withStore(ctx, (store, config) => runConsole({
      store, config: { ...config, dataDir: store.dataDir }, input: process.stdin, output: ctx.stdout, env: process.env,
    }));
  },
};
