import { CommandError } from '../errors.js';
import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optString } from '../args.js';
import { missingConfig } from '../context.js';
import { runService } from '../../service/run.js';
import { serviceComponents } from '../../service/components.js';
import { LOG_FORMATS, type LogFormat } from '../../log.js';

export const runCommand: Command = {
  name: 'run',
  usage: '[--data-dir DIR] [--log-format json|pretty]',
  summary: 'the service, in the foreground (logs on stdout; SIGHUP reloads the config; one per data_dir)',
  options: [
    DATA_DIR_OPTION,
    { name: 'log-format', value: 'FORMAT', choices: LOG_FORMATS, help: 'pino\'s JSON lines, or readable ones; default: pretty on a terminal, else json' },
  ],
  run(ctx) {
    const missing = missingConfig(ctx);
    if (missing !== null) throw new CommandError('ERR_CLI_NO_CONFIG', missing);
    const dataDir = optString(ctx.args, 'data-dir');
    const isTerminal = (ctx.stdout as { isTTY?: boolean }).isTTY === true;
    return runService({
      configFile: ctx.configFile,
      dataDirOverride: dataDir === undefined ? null : resolve(dataDir),
      stderr: ctx.stderr,
      logFormat: (optString(ctx.args, 'log-format') as LogFormat | undefined) ?? (isTerminal ? 'pretty' : 'json'),
      components: serviceComponents,
    });
  },
};
