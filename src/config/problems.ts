/**
 * What a configuration problem looks like, and how it is printed. Loading never throws on bad content:
 * it collects every problem of the file in one pass (a compiler's habit), each with the position of the
 * node at fault, so an installer fixes the whole file in one edit instead of one line per run.
 */

/** Every code a problem can carry; tests assert codes, not message wording. */
export type ConfigProblemCode =
  | 'ERR_CONFIG_READ'            // the file cannot be read (checkCommand, loadConfig)
  | 'ERR_CONFIG_SYNTAX'          // YAML syntax, as the yaml library reports it
  | 'ERR_CONFIG_DUPLICATE_KEY'   // the same key twice in one mapping (YAML would keep only one)
  | 'ERR_CONFIG_UNKNOWN_KEY'     // a key sipreg does not know, at any level
  | 'ERR_CONFIG_TYPE'            // wrong YAML type: a list where a string belongs, text for a number ...
  | 'ERR_CONFIG_RANGE'           // an integer outside its range
  | 'ERR_CONFIG_OPTION'          // a value that is not one of the options (switch, enum, log level)
  | 'ERR_CONFIG_UNQUOTED'        // text that YAML reads as a number and changes (0644 -> 644, 1e3): quote it
  | 'ERR_CONFIG_REQUIRED'        // a value that must be given (or must not be empty) is missing
  | 'ERR_CONFIG_CONFLICT'        // two keys that exclude each other (password and ha1)
  | 'ERR_CONFIG_DUPLICATE'       // duplicate account number, trunk name, area name, listen address
  | 'ERR_CONFIG_CIDR'            // not an address range (or host bits set)
  | 'ERR_CONFIG_ADDRESS'         // not host:port / IP:port, or port outside 1..65535
  | 'ERR_CONFIG_HOST'            // not a host name or IP literal
  | 'ERR_CONFIG_HA1'             // ha1 not 32 hex digits (ha1_sha256 not 64)
  | 'ERR_CONFIG_SIP_USER'        // not a valid SIP user part (RFC 3261 §25.1 `user`)
  | 'ERR_CONFIG_RELATION';       // two values that contradict each other (SS_ENDPOINT_MIN_EXPIRE > MAX)

export interface ConfigProblem {
  readonly file: string;   // as given by the caller (what the installer typed after -c)
  readonly line: number;   // 1-based; 0 when the problem has no position (unreadable file)
  readonly col: number;    // 1-based
  readonly key: string;    // dotted path: `params.SS_ENDPOINT_EXPIRE`, `accounts[2].password`
  readonly code: ConfigProblemCode;
  readonly message: string; // never contains a password or HA1 value
}

/** `FILE:LINE:COL: KEY: message`, the form of `sipreg check` and of the reload log. */
export function formatProblem(problem: ConfigProblem): string {
  if (problem.line === 0) return `${problem.file}: ${problem.key === '' ? '' : `${problem.key}: `}${problem.message}`;
  const key = problem.key === '' ? '' : `${problem.key}: `;
  return `${problem.file}:${problem.line}:${problem.col}: ${key}${problem.message}`;
}

/** Thrown at the edges (start-up) by `loadConfigOrThrow`; carries every problem of the file. */
export class ConfigError extends Error {
  readonly code: ConfigProblemCode;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const first = problems[0];
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.code = first === undefined ? 'ERR_CONFIG_SYNTAX' : first.code;
    this.problems = problems;
  }
}
