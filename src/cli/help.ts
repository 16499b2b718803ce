/**
 * Every form of help, made from the one command table (index.ts `commands`): `sipreg --help`, each
 * command's `--help`, the man page sipreg.1 (`sipreg help --man`) and the bash completion script
 * (`sipreg help --bash-completion`). A new command or option shows up in all four by being in the table.
 */
import type { OptionSpec } from './args.js';
import { COMMON_OPTIONS, CONFIG_NAME, INSTALLED_CONFIG, type Command } from './command.js';
import { PID_FILE } from '../store/lease.js';
import { VERSION } from '../version.js';
import { cliErrors } from './errors.js';

const WIDTH = 80; // a serial terminal
const LEFT_MAX = 26; // a left cell wider than this puts its text on the next line

/** Options of `sipreg` itself (besides the commands' own): the top of --help and the man page. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  ...COMMON_OPTIONS.map((o) => (o.name === 'help' ? { ...o, help: 'this help; with a command, that command\'s options' } : o)),
  { name: 'version', short: 'V', help: 'version, commit, Node version and platform' },
];

export const ENVIRONMENT: readonly [string, string][] = [
  ['SIPREG_CONFIG', `the config file when -c is not given`],
];

/** Words of `text` in lines of at most WIDTH columns, the first indented by `first`, the rest by
 *  `rest`. A word longer than a line stands alone. */
export function wrap(text: string, first: number, rest: number, words = text.split(' ')): string[] {
  const lines: string[] = [];
  let line = ' '.repeat(first);
  let empty = true;
  for (const word of words) {
    if (!empty && line.length + 1 + word.length > WIDTH) {
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

/** Two columns: the left cells padded to the widest (at most LEFT_MAX), the right ones wrapped beside. */
export function table(rows: readonly (readonly [string, string])[], indent = 2): string[] {
  const left = Math.min(LEFT_MAX, Math.max(0, ...rows.map(([l]) => l.length)));
  const col = indent + left + 2;
  return rows.flatMap(([l, r]) => {
    if (l.length > left) return [`${' '.repeat(indent)}${l}`, ...wrap(r, col, col)];
    const [firstLine, ...more] = wrap(r, col, col);
    return [`${' '.repeat(indent)}${l.padEnd(left)}  ${firstLine!.trimStart()}`, ...more];
  });
}

export function optionFlag(o: OptionSpec): string {
  return `${o.short === undefined ? '    ' : `-${o.short}, `}--${o.name}${o.value === undefined ? '' : ` ${o.value}`}`;
}

function invocation(c: Command): string {
  return `sipreg ${c.name}${c.usage === '' ? '' : ` ${c.usage}`}`;
}

export function usageText(commands: readonly Command[]): string {
  return [
    'usage: sipreg <command> [options]',
    '',
    'commands:',
    ...table(commands.map((c) => [c.name, c.summary])),
    '',
    'options:',
    ...table(GLOBAL_OPTIONS.map((o) => [optionFlag(o), o.help])),
    '',
    'environment:',
    ...table(ENVIRONMENT),
    '',
    'Each command\'s own options: sipreg COMMAND --help. The manual: man sipreg.',
  ].join('\n') + '\n';
}

export function commandHelp(c: Command): string {
  const opts = [...c.options, ...COMMON_OPTIONS];
  return [
    // A usage line breaks between option groups, never inside `[--limit N]`.
    ...wrap('', 0, 4, `usage: ${invocation(c)} [options]`.match(/\[[^\]]*\]|\S+/g) ?? []),
    '',
    ...wrap(c.summary, 0, 0),
    '',
    'options:',
    ...table(opts.map((o) => [optionFlag(o), o.choices === undefined ? o.help : `${o.help} (${o.choices.join(', ')})`])),
  ].join('\n') + '\n';
}

/** roff text: backslashes and hyphens escaped, a leading dot or quote made harmless. */
function roff(text: string): string {
  return text.replaceAll('\\', '\\e').replaceAll('-', '\\-').replace(/^([.'])/, '\\&$1');
}

function manOption(o: OptionSpec): string[] {
  const flag = `${o.short === undefined ? '' : `\\fB\\-${o.short}\\fR, `}\\fB\\-\\-${o.name}\\fR${o.value === undefined ? '' : ` \\fI${o.value}\\fR`}`;
  return ['.TP', flag, roff(o.choices === undefined ? o.help : `${o.help} (${o.choices.join(', ')})`)];
}

/** The manual page, sipreg(1). */
export function manPage(commands: readonly Command[]): string {
  const lines = [
    `.TH SIPREG 1 "" "sipreg ${roff(VERSION)}" "sipreg manual"`,
    '.SH NAME',
    'sipreg \\- UDP SIP registrar for VoIP gateway appliances',
    '.SH SYNOPSIS',
    '.B sipreg',
    '.I command',
    '.RI [ options ]',
    '.br',
    '.B sipreg',
    '.RB [ \\-\\-help | \\-\\-version ]',
    '.SH DESCRIPTION',
    roff('sipreg accepts REGISTER requests from phones, keeps their bindings in an LMDB store in data_dir, and ' +
      'registers itself to upstream trunks. `sipreg run` is the service; the other commands are for the operator ' +
      'and work while it runs, by opening the same store. Only one service runs on a data_dir at a time.'),
    '.SH COMMANDS',
  ];
  for (const c of commands) {
    lines.push('.TP', `\\fB${roff(c.name)}\\fR${c.usage === '' ? '' : ` ${roff(c.usage)}`}`, roff(c.summary));
    if (c.options.length > 0) {
      lines.push('.RS');
      for (const o of c.options) lines.push(...manOption(o));
      lines.push('.RE');
    }
  }
  lines.push('.SH OPTIONS', ...GLOBAL_OPTIONS.flatMap(manOption));
  lines.push('.SH ENVIRONMENT', ...ENVIRONMENT.flatMap(([name, text]) => ['.TP', `\\fB${roff(name)}\\fR`, roff(text)]));
  lines.push(
    '.SH FILES',
    '.TP', `\\fI${roff(INSTALLED_CONFIG)}\\fR`, roff(`the config, when neither -c nor SIPREG_CONFIG names one and the working directory has no ${CONFIG_NAME}; \`sipreg check\` validates it`),
    '.TP', '\\fI/var/lib/sipreg\\fR', roff('the default data_dir: the store (data.mdb, lock.mdb)'),
    '.TP', `\\fI${roff(INSTALLED_CONFIG)}.versions/\\fR`, roff('the config before each `sipreg config apply` (N.yaml, the last 10) and history.jsonl, the pushes and their results'),
    '.TP', `\\fIdata_dir/${roff(PID_FILE)}\\fR`, roff('the running service\'s PID; a second `sipreg run` on the same data_dir refuses to start'),
    '.SH EXIT STATUS',
    roff('0 success; 1 an operating error (invalid config, nothing found, store unusable, data_dir in use or lost), with one line on stderr; 2 a usage error (unknown command or option), with the usage.'),
    '.SH DIAGNOSTICS',
    roff('An admin command\'s error line is `sipreg COMMAND: CODE: message`; with --json an operating error is {"code": CODE, "message": ...} on stderr. The codes:'),
    ...cliErrors.flatMap((e) => ['.TP', `\\fB${roff(e.code)}\\fR (exit ${e.exitStatus})`, roff(e.means)]),
    '.SH SEE ALSO',
    roff('systemctl(8), journalctl(1), sipsak(1); README.md (in /usr/share/doc/sipreg)'),
  );
  return `${lines.join('\n')}\n`;
}

/** Words a shell may complete after `--NAME` (the option's choices, or files, or directories). */
function valueCompletion(o: OptionSpec): string | null {
  if (o.choices !== undefined) return `-W '${o.choices.join(' ')}'`;
  if (o.value === 'FILE') return '-f';
  if (o.value === 'DIR') return '-d';
  return null;
}

/** A bash completion script: commands, each command's options, and values where they are known. */
export function bashCompletion(commands: readonly Command[]): string {
  const allOptions = new Map<string, OptionSpec>();
  for (const c of commands) for (const o of [...c.options, ...COMMON_OPTIONS]) allOptions.set(o.name, o);
  const valueCases: string[] = [];
  const valueless: string[] = [];
  for (const o of allOptions.values()) {
    if (o.value === undefined) continue;
    const flags = [`--${o.name}`, ...(o.short === undefined ? [] : [`-${o.short}`])].join('|');
    const words = valueCompletion(o);
    if (words === null) valueless.push(flags);
    else valueCases.push(`    ${flags}) COMPREPLY=($(compgen ${words} -- "$cur")); return ;;`);
  }
  const optionWords = (c: Command): string => [
    ...(c.name === 'help' ? commands.map((x) => x.name) : []), // `sipreg help COMMAND`
    ...(c.subcommands ?? []),
    ...[...c.options, ...COMMON_OPTIONS].flatMap((o) => [`--${o.name}`, ...(o.short === undefined ? [] : [`-${o.short}`])]),
  ].join(' ');
  return [
    '# bash completion for sipreg (generated by `sipreg help --bash-completion`)',
    '_sipreg() {',
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}" opts',
    '  if [[ $COMP_CWORD -eq 1 ]]; then',
    `    COMPREPLY=($(compgen -W '${commands.map((c) => c.name).join(' ')} --help --version' -- "$cur")); return`,
    '  fi',
    '  case "$prev" in',
    ...valueCases,
    ...(valueless.length === 0 ? [] : [`    ${valueless.join('|')}) COMPREPLY=(); return ;;`]),
    '  esac',
    '  case "${COMP_WORDS[1]}" in',
    ...commands.map((c) => `    ${c.name}) opts='${optionWords(c)}' ;;`),
    '    *) opts= ;;',
    '  esac',
    '  COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
    '}',
    'complete -F _sipreg sipreg',
  ].join('\n') + '\n';
}
