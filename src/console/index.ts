/**
 * console/: the operator console: the shell (app.ts), one file per screen (screens/), the input loop (ui.ts)
 * and the pure screen layer (screen.ts); what it shares with the admin commands is in ops/. Imported by the
 * CLI's console command only (test/tidy.test.ts holds that nothing else imports it).
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config/types.js';
import type { Store } from '../store/index.js';
import { ConsoleApp } from './app.js';
import type { LineSource } from './ui.js';

export { ConsoleApp } from './app.js';
export type { LineSource } from './ui.js';

/** Lines from a stream through node:readline: typed at a TTY (with echo and editing) or piped in. */
export function readlineSource(input: Readable & { isTTY?: boolean }, output: Writable & { isTTY?: boolean }): LineSource & { close(): void } {
  const terminal = input.isTTY === true && output.isTTY === true;
  const rl = createInterface({ input, output, terminal });
  const queued: string[] = [];
  let waiting: ((line: string | null) => void) | null = null;
  let ended = false;
  rl.on('line', (line) => {
    if (waiting !== null) {
      const w = waiting;
      waiting = null;
      w(line);
    } else {
      queued.push(line);
    }
  });
  rl.on('close', () => {
    ended = true;
    if (waiting !== null) {
      const w = waiting;
      waiting = null;
      w(null);
    }
  });
  // Ctrl-C at the console leaves it, like 0 on the main menu would after a few presses.
  rl.on('SIGINT', () => rl.close());
  return {
    next(prompt) {
      const line = queued.shift();
      if (line !== undefined) {
        output.write(prompt);
        return Promise.resolve(line);
      }
      if (ended) return Promise.resolve(null);
      rl.setPrompt(prompt);
      rl.prompt();
      return new Promise((resolveLine) => { waiting = resolveLine; });
    },
    close() { rl.close(); },
  };
}

/** Colour and cursor addressing only when the terminal says it has them. */
export function terminalClears(output: Writable & { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  const term = env['TERM'] ?? '';
  return output.isTTY === true && term !== '' && term !== 'dumb';
}

export async function runConsole(opts: { store: Store; config: Config; input: Readable; output: Writable; env: NodeJS.ProcessEnv }): Promise<number> {
  const lines = readlineSource(opts.input, opts.output);
  // The terminal went away (SSH dropped, output piped into `head`): end as at end of input.
  let outputGone = false;
  const onOutputError = (): void => { outputGone = true; lines.close(); };
  opts.output.on('error', onOutputError);
  const app = new ConsoleApp({
    store: opts.store, config: opts.config, lines, clear: terminalClears(opts.output, opts.env),
    write: (text) => { if (!outputGone) opts.output.write(text); },
  });
  try {
    return await app.run();
  } finally {
    lines.close();
    if (!outputGone) opts.output.write('\n');
  }
}
