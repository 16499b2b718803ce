import { resolve } from 'node:path';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optString } from '../args.js';
import { runService } from '../../service/run.js';
import { serviceComponents } from '../../service/components.js';

export const runCommand: Command = {
  name: 'run',
  usage: '',
  summary: 'the service, in the foreground (JSON logs; SIGHUP reloads)',
  options: [DATA_DIR_OPTION],
  run(ctx) {
    const dataDir = optString(ctx.args, 'data-dir');
    return runService({
      configFile: ctx.configFile,
      dataDirOverride: dataDir === undefined ? null : resolve(dataDir),
      stderr: ctx.stderr,
      components: serviceComponents,
    });
  },
};
