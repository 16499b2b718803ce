import type { Writable } from 'node:stream';
import type { OptionSpec, ParsedArgs } from './args.js';

/** Where the config is looked for when neither -c nor $SIPREG_CONFIG names one: the working directory's
 *  `sipreg.yaml`, then the installed one. */
export const CONFIG_NAME = 'sipreg.yaml';
export const INSTALLED_CONFIG = '/etc/sipreg/sipreg.yaml';

/** What every command gets: its parsed arguments and where to write. No globals, so tests can run it. */
export interface CommandContext {
  readonly command: string;
  readonly args: ParsedArgs;
  readonly configFile: string;
  /** How configFile was found: `-c`, `$SIPREG_CONFIG`, or the places searched in order (for "no config at"). */
  readonly configFrom: '-c' | '$SIPREG_CONFIG' | readonly string[];
  /** A reading command (list, show, ...): works while the config has problems, it needs only data_dir. */
  readonly readsOnly: boolean;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export interface Command {
  readonly name: string;
  readonly usage: string;          // arguments after the command name, for --help
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  /** Words the first argument may be (`config apply|history|rollback`), for bash completion. */
  readonly subcommands?: readonly string[];
  run(ctx: CommandContext): Promise<number>;
}

/** Options every command takes. */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: 'config', short: 'c', value: 'FILE', help: `config file (default: $SIPREG_CONFIG, else ./${CONFIG_NAME}, else ${INSTALLED_CONFIG})` },
  { name: 'help', short: 'h', help: 'show this command\'s help' },
];

/** For commands that open the store: run the same command against another data directory. */
export const DATA_DIR_OPTION: OptionSpec = {
  name: 'data-dir', value: 'DIR', help: 'use this data directory instead of the config\'s data_dir',
};
