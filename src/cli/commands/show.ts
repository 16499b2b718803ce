import { CommandError, UsageError } from '../errors.js';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag } from '../args.js';
import { withStore } from '../context.js';
import { bindingDetails, bindingJson } from '../../ops/bindings.js';
import { bindingsOf } from '../../store/index.js';
import { jsonText } from '../../ops/sanitize.js';

export const showCommand: Command = {
  name: 'show',
  usage: 'NUMBER',
  summary: 'every detail of one number\'s bindings (exit 1 if none)',
  options: [{ name: 'json', help: 'a JSON array, one object per binding' }, DATA_DIR_OPTION],
  async run(ctx) {
    const [number, extra] = ctx.args.positionals;
    if (number === undefined) throw new UsageError('ERR_CLI_ARGUMENT', 'NUMBER is missing');
    if (extra !== undefined) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${extra}'`);
    return withStore(ctx, (store) => {
      const nowMs = Date.now();
      const bindings = bindingsOf(store, number);
      if (bindings.length === 0) throw new CommandError('ERR_CLI_NOT_FOUND', `no registration for ${number}`);
      if (optFlag(ctx.args, 'json')) {
        ctx.stdout.write(`${jsonText(bindings.map((b) => bindingJson(b, nowMs)))}\n`);
      } else {
        ctx.stdout.write(`${bindings.map((b) => bindingDetails(b, nowMs).join('\n')).join('\n\n')}\n`);
      }
      return 0;
    });
  },
};
