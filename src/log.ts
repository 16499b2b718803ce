import pino, { type Logger } from 'pino';
import type { LogLevel } from './config/types.js';

export type { Logger };

/**
 * JSON lines to stdout through pino.destination() — never a worker transport, the binary must stay
 * one file (STYLE.md). Asynchronous writes; `flushLog` before exit so the last lines are not lost.
 */
export function createLogger(level: LogLevel): Logger {
  const dest = pino.destination({ dest: 1, sync: false, minLength: 0 });
  return pino({ level, base: { svc: 'sipreg' }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}

export function flushLog(log: Logger): void {
  try { log.flush(); } catch { /* stdout already gone: nothing to save */ }
}
