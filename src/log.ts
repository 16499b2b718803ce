import { fstatSync } from 'node:fs';
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
 * When stdout is the journal's stream (sipreg.service), each JSON line starts with its syslog priority
 * (`<4>` for a warning): journald takes it off and files the line at that priority, so
 * `journalctl -u sipreg -p warning` shows the warnings and errors, and a console that forwards notices
 * (the image's tests) shows them; without it every line was filed as info.
 */
export function createLogger(level: LogLevel, format: LogFormat = 'json', env: NodeJS.ProcessEnv = process.env): Logger {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
  const options = { level, base: { svc: 'sipreg' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (format === 'json' && stdoutIsJournal(env)) {
    const journal = {
      write(line: string): void { dest.write(priorityPrefix(line) + line); },
      flush(cb: (err?: Error) => void): void { dest.flush(cb); },
    };
    return pino(options, journal);
  }
  if (format === 'json') return pino(options, dest);
  const pretty = {
    write(chunk: string): void { dest.write(prettyLines(chunk)); },
    flush(cb: (err?: Error) => void): void { dest.flush(cb); },
  };
  return pino(options, pretty);
}

/** True when fd 1 is the stream systemd named in $JOURNAL_STREAM ("DEV:INODE"), as sd_journal_stream_fd(3) says to check. */
export function stdoutIsJournal(env: NodeJS.ProcessEnv): boolean {
  const named = env['JOURNAL_STREAM'];
  if (named === undefined || named === '') return false;
  try {
    const st = fstatSync(1);
    return named === `${st.dev}:${st.ino}`;
  } catch {
    return false;
  }
}

// pino's levels as syslog priorities: fatal crit, error err, warn warning, info info, debug and trace debug.
const PRIORITY_PREFIX: Readonly<Record<string, string>> = { '60': '<2>', '50': '<3>', '40': '<4>', '30': '<6>', '20': '<7>', '10': '<7>' };

/** The `<N>` of one pino JSON line (`{"level":40,...`); info when it has no level of ours. */
export function priorityPrefix(line: string): string {
  return line.startsWith('{"level":') ? PRIORITY_PREFIX[line.slice(9, 11)] ?? '<6>' : '<6>';
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
