import type { Command } from '../command.js';
import { checkCommand } from '../../config/index.js';

export const checkCommandSpec: Command = {
  name: 'check',
  usage: '',
  summary: 'validate the config: FILE:LINE:COL: KEY: message per problem',
  options: [],
  async run(ctx) {
    return checkCommand(ctx.configFile, ctx.stderr);
  },
};
