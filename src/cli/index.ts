import { CommandError, UsageError, errorLine } from './errors.js';
import { parseArgs, optString, optFlag } from './args.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { COMMON_OPTIONS, CONFIG_NAME, INSTALLED_CONFIG, type Command, type CommandContext } from './command.js';
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
import { helpCommand } from './commands/help.js';
import { commandHelp, usageText } from './help.js';
import { compactCommand } from './commands/compact.js';
import { configCommand } from './commands/config.js';
import { backupCommand } from './commands/backup.js';
import { restoreCommand } from './commands/restore.js';
import { factoryResetCommand } from './commands/factory-reset.js';
import { firmwareCommand } from './commands/firmware.js';
import { versionLine } from '../version.js';
import { jsonText } from '../ops/sanitize.js';
import type { Writable } from 'node:stream';

/** Every command `sipreg` knows, in --help order. A capability appears here only once it works. */
export const commands: readonly Command[] = [
  runCommand,
  checkCommandSpec,
  configCommand,
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
  backupCommand,
  restoreCommand,
  factoryResetCommand,
  firmwareCommand,
  paramsCommand,
  helpCommand(() => commands),
];

/** Commands that only read the store: they work while the config on disk has problems. */
const READING_COMMANDS: ReadonlySet<string> = new Set(['list', 'show', 'events', 'stats', 'lockouts', 'trunks']);

/**
 * The config file, found the way the service is usually started: `-c FILE`, else `$SIPREG_CONFIG`, else
 * `sipreg.yaml` in the working directory, else /etc/sipreg/sipreg.yaml. With neither present the
 * installed path is named, and the places searched are kept for the "no config at" line.
 */
export function findConfig(explicit: string | undefined, env: NodeJS.ProcessEnv, cwd: string): Pick<CommandContext, 'configFile' | 'configFrom'> {
  if (explicit !== undefined) return { configFile: explicit, configFrom: '-c' };
  const fromEnv = env['SIPREG_CONFIG'];
  if (fromEnv !== undefined && fromEnv !== '') return { configFile: fromEnv, configFrom: '$SIPREG_CONFIG' };
  const searched = [join(cwd, CONFIG_NAME), INSTALLED_CONFIG];
  return { configFile: searched.find((f) => existsSync(f)) ?? INSTALLED_CONFIG, configFrom: searched };
}

export interface Io {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly env: NodeJS.ProcessEnv;
  /** Where `sipreg.yaml` is looked for first; default process.cwd(). */
  readonly cwd?: string;
}

/** The whole CLI: returns the exit code (0 ok, 1 operating error, 2 usage error). */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const first = argv[0];
  if (first === undefined || first === '--help' || first === '-h') {
    (first === undefined ? io.stderr : io.stdout).write(usageText(commands));
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-V') {
    io.stdout.write(`${versionLine()}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === first);
  if (command === undefined) {
    const err = new UsageError('ERR_CLI_UNKNOWN_COMMAND', `unknown command '${first}'`);
    io.stderr.write(`${errorLine('sipreg', err)}${usageText(commands)}`);
    return err.exitCode;
  }
  let ctx: CommandContext;
  try {
    const args = parseArgs(argv.slice(1), [...command.options, ...COMMON_OPTIONS]);
    if (optFlag(args, 'help')) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    ctx = {
      command: command.name, args, ...findConfig(optString(args, 'config'), io.env, io.cwd ?? process.cwd()),
      readsOnly: READING_COMMANDS.has(command.name), stdout: io.stdout, stderr: io.stderr,
    };
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${errorLine(`sipreg ${command.name}`, err)}${commandHelp(command)}`);
      return err.exitCode;
    }
    throw err;
  }
  try {
    return await command.run(ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`${errorLine(`sipreg ${command.name}`, err)}${commandHelp(command)}`);
      return err.exitCode;
    }
    if (err instanceof CommandError) {
      // --json: what a script reads is the code, as one JSON object (stdout stays empty).
      io.stderr.write(optFlag(ctx.args, 'json') ? `${jsonText({ code: err.code, message: err.message }, 0)}\n` : errorLine(`sipreg ${command.name}`, err));
      return err.exitCode;
    }
    throw err;
  }
}
