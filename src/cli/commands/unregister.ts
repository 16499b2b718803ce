import { CommandError, UsageError } from '../errors.js';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optInt, optString } from '../args.js';
import { withStore } from '../context.js';
import { forceUnregister } from '../../ops/actions.js';
import { bindingsOf } from '../../store/index.js';
import { displayText } from '../../ops/sanitize.js';
import { operatorLimits } from '../../limits.js';

/** A hold longer than operatorLimits.holdSMax is a ban: that belongs in the config's ACL, not a lockout. */
const HOLD_S_MAX = operatorLimits.holdSMax;

export const unregisterCommand: Command = {
  name: 'unregister',
  usage: 'NUMBER [--contact URI] [--hold SECONDS]',
  summary: 'force-unregister: removes the binding(s) now (exit 1 if none)',
  options: [
    { name: 'contact', value: 'URI', help: 'only the binding with this Contact URI (or +sip.instance)' },
    { name: 'hold', value: 'SECONDS', help: `then refuse the number for this long (1..${HOLD_S_MAX})` },
    DATA_DIR_OPTION,
  ],
  async run(ctx) {
    const [number, extra] = ctx.args.positionals;
    if (number === undefined) throw new UsageError('ERR_CLI_ARGUMENT', 'NUMBER is missing');
    if (extra !== undefined) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${extra}'`);
    const contact = optString(ctx.args, 'contact');
    const holdS = optInt(ctx.args, 'hold', 1, HOLD_S_MAX);
    return withStore(ctx, async (store) => {
      const result = await forceUnregister(store, number, { contact, holdS, by: 'sipreg unregister' });
      if (result.removed.length === 0) {
        const has = bindingsOf(store, number);
        if (has.length === 0) throw new CommandError('ERR_CLI_NOT_FOUND', `no registration for ${number}`);
        throw new CommandError('ERR_CLI_NOT_FOUND', `${number} has no contact ${contact ?? ''}; its contacts: ${has.map((b) => b.contact).join(' ')}`);
      }
      for (const b of result.removed) ctx.stdout.write(`${displayText(`unregistered ${b.number} ${b.contact} (from ${b.source})`)}\n`);
      for (const l of result.hold) ctx.stdout.write(`${displayText(`held ${l.number || l.address} until ${new Date(l.untilMs).toISOString()}`)}\n`);
      return 0;
    });
  },
};
