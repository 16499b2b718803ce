// A small strict option parser: unknown options and missing values are usage errors (exit 2).
import { UsageError } from './errors.js';

export interface OptionSpec {
  readonly name: string;           // long name without dashes
  readonly short?: string;         // one letter
  readonly value?: string;         // placeholder when the option takes a value; absent: a flag
  readonly help: string;
  readonly choices?: readonly string[];
}

export interface ParsedArgs {
  readonly options: Map<string, string | true>;
  readonly positionals: string[];
}

export function parseArgs(argv: readonly string[], specs: readonly OptionSpec[]): ParsedArgs {
  const options = new Map<string, string | true>();
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') { positionals.push(...argv.slice(i + 1)); break; }
    if (!arg.startsWith('-') || arg === '-') { positionals.push(arg); continue; }
    let name: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else {
      if (arg.length !== 2) throw new UsageError('ERR_CLI_UNKNOWN_OPTION', `unknown option '${arg}'`);
      const spec = specs.find((s) => s.short === arg[1]);
      if (spec === undefined) throw new UsageError('ERR_CLI_UNKNOWN_OPTION', `unknown option '${arg}'`);
      name = spec.name;
    }
    const spec = specs.find((s) => s.name === name);
    if (spec === undefined) throw new UsageError('ERR_CLI_UNKNOWN_OPTION', `unknown option '--${name}'`);
    if (spec.value === undefined) {
      if (inline !== undefined) throw new UsageError('ERR_CLI_OPTION_VALUE', `option '--${name}' takes no value`);
      options.set(name, true);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError('ERR_CLI_OPTION_VALUE', `option '--${name}' needs a value (${spec.value})`);
    if (spec.choices !== undefined && !spec.choices.includes(value)) {
      throw new UsageError('ERR_CLI_OPTION_VALUE', `option '--${name}' must be one of ${spec.choices.join(', ')}. Received '${value}'`);
    }
    options.set(name, value);
  }
  return { options, positionals };
}

export function optString(args: ParsedArgs, name: string): string | undefined {
  const v = args.options.get(name);
  return typeof v === 'string' ? v : undefined;
}

export function optFlag(args: ParsedArgs, name: string): boolean {
  return args.options.get(name) === true;
}

export function optInt(args: ParsedArgs, name: string, min: number, max: number): number | undefined {
  const v = optString(args, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new UsageError('ERR_CLI_OPTION_VALUE', `option '--${name}' must be a whole number. Received '${v}'`);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError('ERR_CLI_OPTION_VALUE', `option '--${name}' must be ${min}..${max}. Received ${v}`);
  return n;
}
