import { UsageError } from '../errors.js';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { withStore } from '../context.js';
import { liftLockout } from '../../ops/actions.js';
import { lockoutTarget } from '../../ops/history.js';
import { displayText } from '../../ops/sanitize.js';

export const unlockCommand: Command = {
  name: 'unlock',
  usage: 'IP|NUMBER',
  summary: 'lift every suspension of this address or number',
  options: [DATA_DIR_OPTION],
  async run(ctx) {
    const [target, extra] = ctx.args.positionals;
    if (target === undefined) throw new UsageError('ERR_CLI_ARGUMENT', 'IP|NUMBER is missing');
    if (extra !== undefined) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${extra}'`);
    return withStore(ctx, async (store) => {
      const removed = await liftLockout(store, target, 'sipreg unlock');
      // Nothing to lift is not a failure (exit 0): the state asked for holds.
      if (removed.length === 0) ctx.stdout.write(`${displayText(`no lockout of ${target}`)}\n`);
      for (const l of removed) ctx.stdout.write(`${displayText(`lifted ${l.kind} ${lockoutTarget(l)}`)}\n`);
      return 0;
    });
  },
};
