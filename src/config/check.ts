/**
 * `sipreg check -c FILE`: every problem of the file on stderr as `FILE:LINE:COL: KEY: message`,
 * exit status 0 when valid and 1 when not; a valid file gets one line on stdout,
 * `OK: N accounts, M trunks`. An unreadable file is one line `FILE: cannot read: <reason>`.
 */
import { loadConfig } from './load.js';
import { formatProblem } from './problems.js';

export function checkCommand(file: string, stderr: NodeJS.WritableStream, stdout?: NodeJS.WritableStream): number {
  const { config, problems } = loadConfig(file);
  for (const problem of problems) stderr.write(`${formatProblem(problem)}\n`);
  if (config === null) return 1;
  const count = (n: number, what: string): string => `${n} ${what}${n === 1 ? '' : 's'}`;
  stdout?.write(`OK: ${count(config.accounts.length, 'account')}, ${count(config.trunks.length, 'trunk')}\n`);
  return 0;
}
