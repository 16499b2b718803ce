import type { Command } from '../command.js';
import { checkCommand } from '../../config/index.js';

export const checkCommandSpec: Command = {
  name: 'check',
  usage: '',
  summary: 'validate the config file; each problem on stderr as FILE:LINE:COL: KEY: message (exit 0 valid, 1 invalid)',
  options: [],
  async run(ctx) {
    return checkCommand(ctx.configFile, ctx.stderr);
  },
};
