import type { Writable } from 'node:stream';
import type { OptionSpec, ParsedArgs } from './args.js';

/** What every command gets: its parsed arguments and where to write. No globals, so tests can run it. */
export interface CommandContext {
  readonly args: ParsedArgs;
  readonly configFile: string;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

export interface Command {
  readonly name: string;
  readonly usage: string;          // arguments after the command name, for --help
  readonly summary: string;
  readonly options: readonly OptionSpec[];
  run(ctx: CommandContext): Promise<number>;
}

/** Options every command takes (CONTRACT.md). */
export const COMMON_OPTIONS: readonly OptionSpec[] = [
  { name: 'config', short: 'c', value: 'FILE', help: 'config file (default: $SIPREG_CONFIG, else /etc/sipreg/sipreg.yaml)' },
  { name: 'help', short: 'h', help: 'show this command\'s help' },
];

/** For commands that open the store: run the same command against another data directory. */
export const DATA_DIR_OPTION: OptionSpec = {
  name: 'data-dir', value: 'DIR', help: 'use this data directory instead of the config\'s data_dir',
};
