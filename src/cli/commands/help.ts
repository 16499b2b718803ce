import { UsageError } from '../errors.js';
import type { Command } from '../command.js';
import { optFlag } from '../args.js';
import { bashCompletion, commandHelp, manPage, usageText } from '../help.js';

/** `sipreg help [COMMAND]`, and the generated manual and completion (make build writes them to dist/). */
export function helpCommand(all: () => readonly Command[]): Command {
  return {
    name: 'help',
    usage: '[COMMAND] [--man | --bash-completion]',
    summary: 'this overview, one command\'s help, the man page or the bash completion script',
    options: [
      { name: 'man', help: 'the manual page sipreg(1), in roff (man -l - reads it)' },
      { name: 'bash-completion', help: 'the bash completion script' },
    ],
    async run(ctx) {
      const [name, extra] = ctx.args.positionals;
      if (extra !== undefined) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${extra}'`);
      const man = optFlag(ctx.args, 'man');
      const completion = optFlag(ctx.args, 'bash-completion');
      if ((man || completion) && (name !== undefined || (man && completion))) {
        throw new UsageError('ERR_CLI_OPTION_CONFLICT', '--man and --bash-completion take no command and exclude each other');
      }
      if (man) ctx.stdout.write(manPage(all()));
      else if (completion) ctx.stdout.write(bashCompletion(all()));
      else if (name === undefined) ctx.stdout.write(usageText(all()));
      else {
        const command = all().find((c) => c.name === name);
        if (command === undefined) throw new UsageError('ERR_CLI_UNKNOWN_COMMAND', `unknown command '${name}'`);
        ctx.stdout.write(commandHelp(command));
      }
      return 0;
    },
  };
}
