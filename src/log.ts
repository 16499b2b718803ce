import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/types.js';

export type { Logger };

/** `json`: pino's JSON lines, for journald and machines (the default). `pretty`: for a person at a terminal. */
export type LogFormat = 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty'];

/**
 * JSON lines to stdout through pino.destination() — never a worker transport, the binary must stay
 * one file. Asynchronous writes; `flushLog` before exit so the last lines are not lost.
 * `pretty` runs each JSON line through prettyLine on its way to the same destination.
 */
export function createLogger(level: LogLevel, format: LogFormat = 'json'): Logger {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
  const options = { level, base: { svc: 'sipreg' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'json') return pino(options, dest);
  const pretty = {
    write(chunk: string): void { dest.write(prettyLines(chunk)); },
    flush(cb: (err?: Error) => void): void { dest.flush(cb); },
  };
  return pino(options, pretty);
}

export function flushLog(log: Logger): void {
  try { log.flush(); } catch { /* stdout already gone: nothing to save */ }
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has, shown in their own columns or not at all. */
const FIXED = new Set(['level', 'time', 'msg', 'svc', 'pid', 'hostname']);

/**
 * `2026-05-01T12:00:00.000Z INFO  sipreg started version=0.1.0 listen=["0.0.0.0:5060"]` for each JSON
 * line of `chunk`. Logged values can come from the network (a User-Agent, a digest username): control
 * and bidi characters are escaped so a line cannot move the cursor or recolour the terminal.
 */
export function prettyLines(chunk: string): string {
  let out = '';
  for (const line of chunk.split('\n')) {
    if (line === '') continue;
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      out += `${escapeControls(line)}\n`;
      continue;
    }
    const level = LEVEL_NAMES[rec['level'] as number] ?? String(rec['level']);
    let text = `${String(rec['time'] ?? '')} ${level.padEnd(5)} ${escapeControls(String(rec['msg'] ?? ''))}`;
    for (const [key, value] of Object.entries(rec)) {
      if (!FIXED.has(key)) text += ` ${escapeControls(key)}=${fieldValue(value)}`;
    }
    out += `${text}\n`;
  }
  return out;
}

/** A plain word as it is; anything with spaces, quotes, `=` or non-ASCII as JSON. */
function fieldValue(value: unknown): string {
  if (typeof value === 'string' && /^[\x21-\x7e]+$/.test(value) && !/["=\\]/.test(value)) return value;
  return escapeControls(JSON.stringify(value) ?? String(value));
}

// C0, DEL, C1, line/paragraph separators and the bidi embedding/override/isolate controls.
const CONTROLS = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escapeControls(s: string): string {
  return s.replace(CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
