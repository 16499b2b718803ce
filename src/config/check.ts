/**
 * `sipreg check -c FILE`: every problem of the file on stderr as `FILE:LINE:COL: KEY: message`,
 * exit status 0 when valid and 1 when not (CONTRACT.md). An unreadable file is one line
 * `FILE: cannot read: <reason>`.
 */
import { loadConfig } from './load.js';
import { formatProblem } from './problems.js';

export function checkCommand(file: string, stderr: NodeJS.WritableStream): number {
  const { config, problems } = loadConfig(file);
  for (const problem of problems) stderr.write(`${formatProblem(problem)}\n`);
  return config === null ? 1 : 0;
}
