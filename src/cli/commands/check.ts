import { CommandError } from '../errors.js';
import type { Command } from '../command.js';
import { missingConfig } from '../context.js';
import { checkCommand } from '../../config/index.js';

export const checkCommandSpec: Command = {
  name: 'check',
  usage: '',
  summary: 'validate the config: FILE:LINE:COL: KEY: message per problem, or OK: N accounts, M trunks',
  options: [],
  async run(ctx) {
    const missing = missingConfig(ctx);
    if (missing !== null) throw new CommandError('ERR_CLI_NO_CONFIG', missing);
    return checkCommand(ctx.configFile, ctx.stderr, ctx.stdout);
  },
};
