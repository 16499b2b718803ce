// The admin commands' failure codes: one table of {code: [exit status, what it means]} from which the code
// types and each code's exit status are derived (as sip/parse-failures.ts does for the parser's codes and
// config/problems.ts for the config's), so a code cannot exist without its exit status. A failure is printed
// on stderr as `sipreg COMMAND: CODE: message` (a usage error followed by the command's usage); with --json
// an operating error is one JSON object instead, `{"code": CODE, "message": ...}`. Scripts and tests rely on
// the code and the exit status, not on the wording. docs/operations.md lists them (test/cli/errors.test.ts
// checks it does, and that every code here is used).

import { displayText } from '../ops/sanitize.js';

const cliErrorTable = {
  // exit 2: the command line is wrong; nothing was read or changed.
  ERR_CLI_UNKNOWN_COMMAND: [2, 'a command or subcommand sipreg does not know'],
  ERR_CLI_UNKNOWN_OPTION: [2, 'an option the command does not take'],
  ERR_CLI_OPTION_VALUE: [2, 'an option\'s value missing, not one of its choices, not a number or out of range, or given to a flag'],
  ERR_CLI_OPTION_CONFLICT: [2, 'options that exclude each other, or one that needs another'],
  ERR_CLI_ARGUMENT: [2, 'an argument missing (NUMBER, FILE, a subcommand) or one too many'],
  // exit 1: an operating error.
  ERR_CLI_NO_CONFIG: [1, 'the config file does not exist'],
  ERR_CLI_CONFIG_INVALID: [1, 'the config has problems (each printed first, as by sipreg check), or its data_dir cannot be read'],
  ERR_CLI_NO_STORE: [1, 'no store in data_dir: the service has never run there'],
  ERR_CLI_STORE: [1, 'the store cannot be opened or used (the service holds it, another schema, ...)'],
  ERR_CLI_NOT_FOUND: [1, 'nothing of that name: no registration, contact, suspension, trunk or kept config version'],
  ERR_CLI_NOT_CONFIRMED: [1, 'factory-reset without its confirmation: nothing done'],
  ERR_CLI_FILE: [1, 'a file named on the command line cannot be read or written, or is not what it must be'],
  ERR_CLI_PUSH_REFUSED: [1, 'a config push or rollback refused, or rolled back: the config in force is unchanged'],
  ERR_CLI_BACKUP: [1, 'a backup cannot be written, or a restore or factory reset cannot be done: nothing changed'],
  ERR_CLI_FIRMWARE: [1, 'a firmware bundle refused, or this boot is not good'],
} as const satisfies Record<`ERR_CLI_${string}`, readonly [1 | 2, string]>;

type Table = typeof cliErrorTable;
export type CliErrorCode = keyof Table;
/** The codes of a wrong command line (exit 2, with the usage). */
export type UsageCode = { [K in CliErrorCode]: Table[K][0] extends 2 ? K : never }[CliErrorCode];
/** The codes of an operating error (exit 1). */
export type OperatingCode = Exclude<CliErrorCode, UsageCode>;

/** Every code, in the table's order, with its exit status and meaning (for docs and tests). */
export const cliErrors: readonly { code: CliErrorCode; exitStatus: 1 | 2; means: string }[] =
  (Object.keys(cliErrorTable) as CliErrorCode[]).map((code) => ({ code, exitStatus: cliErrorTable[code][0], means: cliErrorTable[code][1] }));

/** A wrong command line: one line naming the problem, then the command's usage; exit 2. */
export class UsageError extends Error {
  readonly exitCode: number;

  constructor(readonly code: UsageCode, message: string) {
    super(message);
    this.name = 'UsageError';
    this.exitCode = cliErrorTable[code][0];
  }
}

/** An operating error that ends a command with one clear line on stderr and exit 1. */
export class CommandError extends Error {
  readonly exitCode: number;

  constructor(readonly code: OperatingCode, message: string) {
    super(message);
    this.name = 'CommandError';
    this.exitCode = cliErrorTable[code][0];
  }
}

/** `WHO: CODE: message` and a newline, the message's control and bidi characters shown as escapes. */
export function errorLine(who: string, err: UsageError | CommandError): string {
  return `${who}: ${err.code}: ${displayText(err.message)}\n`;
}
