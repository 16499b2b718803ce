import { parseArgs, UsageError, optString, optFlag } from './args.js';
import { COMMON_OPTIONS, type Command, type CommandContext } from './command.js';
import { CommandError } from './context.js';
import { runCommand } from './commands/run.js';
import { checkCommandSpec } from './commands/check.js';
import { paramsCommand } from './commands/params.js';
import { consoleCommand } from './commands/console.js';
import { listCommand } from './commands/list.js';
import { showCommand } from './commands/show.js';
import { unregisterCommand } from './commands/unregister.js';
import { trunksCommand } from './commands/trunks.js';
import { eventsCommand } from './commands/events.js';
import { lockoutsCommand } from './commands/lockouts.js';
import { unlockCommand } from './commands/unlock.js';
import { statsCommand } from './commands/stats.js';
import { compactCommand } from './commands/compact.js';
import { versionLine } from '../version.js';
import type { Writable } from 'node:stream';

/** Every command `sipreg` knows, in --help order. A capability appears here only once it works. */
export const commands: readonly Command[] = [
  runCommand,
  checkCommandSpec,
  consoleCommand,
  listCommand,
  showCommand,
  unregisterCommand,
  trunksCommand,
  eventsCommand,
  lockoutsCommand,
  unlockCommand,
  statsCommand,
  compactCommand,
  paramsCommand,
];

const DEFAULT_CONFIG = '/etc/sipreg/sipreg.yaml';

export function usageText(): string {
  const lines = [
    'usage: sipreg <command> [options]',
    '',
    'commands:',
    ...commands.flatMap((c) => [...wrap(`${c.name}${c.usage === '' ? '' : ' ' + c.usage}`, 2, 6), `      ${c.summary}`]),
    '',
    'options of every command:',
    '  -c, --config FILE  default: $SIPREG_CONFIG, else /etc/sipreg/sipreg.yaml',
    '  -h, --help         help of one command',
    '',
    'sipreg --help | --version',
  ];
  return lines.join('\n') + '\n';
}

/** Words of `text` in lines of at most 80 columns (a serial terminal), the first indented by `first`,
 *  the rest by `rest`. A word longer than a line stands alone. */
function wrap(text: string, first: number, rest: number): string[] {
  const lines: string[] = [];
  let line = ' '.repeat(first);
  let empty = true;
  for (const word of text.split(' ')) {
    if (!empty && line.length + 1 + word.length > 80) {
      lines.push(line);
      line = ' '.repeat(rest);
      empty = true;
    }
    line += (empty ? '' : ' ') + word;
    empty = false;
  }
  lines.push(line);
  return lines;
}

function commandHelp(c: Command): string {
  const opts = [...c.options, ...COMMON_OPTIONS].flatMap((o) => {
    const flag = `${o.short === undefined ? '    ' : `-${o.short}, `}--${o.name}${o.value === undefined ? '' : ' ' + o.value}`;
    return [`  ${flag}`, ...wrap(o.help, 6, 6)];
  });
  return [...wrap(`usage: sipreg ${c.name}${c.usage === '' ? '' : ' ' + c.usage} [options]`, 0, 4), '', c.summary, '', 'options:', ...opts].join('\n') + '\n';
}

export interface Io {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
}

/** The whole CLI: returns the exit code (0 ok, 1 operating error, 2 usage error). */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    (first === undefined ? io.stderr : io.stdout).write(usageText());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V') {
    io.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === first);
  if (command === undefined) {
    io.stderr.write(`sipreg: unknown command '${first}'\n${usageText()}`);
    return 2;
  }
  let ctx: CommandContext;
  try {
    const args = parseArgs(argv.slice(1), [...command.options, ...COMMON_OPTIONS]);
    if (optFlag(args, 'help')) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    const configFile = optString(args, 'config') ?? io.env['SIPREG_CONFIG'] ?? DEFAULT_CONFIG;
    ctx = { args, configFile, stdout: io.stdout, stderr: io.stderr };
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`sipreg ${command.name}: ${err.message}\n${commandHelp(command)}`);
      return 2;
    }
    throw err;
  }
  try {
    return await command.run(ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`sipreg ${command.name}: ${err.message}\n${commandHelp(command)}`);
      return 2;
    }
    if (err instanceof CommandError) {
      io.stderr.write(`sipreg ${command.name}: ${err.message}\n`);
      return err.exitCode;
    }
    throw err;
  }
}
