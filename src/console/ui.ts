/**
 * The console's input loop: shows a screen, reads one line, and hands it back. Lines come from a
 * LineSource (readline over stdin/stdout in `sipreg console`, an array in tests). End of input ends
 * the console (EndOfInput), so a script or a dropped serial line never leaves it waiting.
 */
import { renderScreen, pageCount, type Screen } from './screen.js';

export interface LineSource {
  /** The next line typed, or null at end of input. */
  next(prompt: string): Promise<string | null>;
}

export class EndOfInput extends Error {
  constructor() {
    super('end of input');
    this.name = 'EndOfInput';
  }
}

/** What a menu handler returns: a message to show, BACK to leave the menu, or nothing. */
export const BACK = Symbol('back');
export type HandlerResult = string | typeof BACK | void;

export interface UiOptions {
  readonly write: (text: string) => void;
  readonly lines: LineSource;
  /** Clear the terminal before each screen (only when it says it can: a TTY with a TERM). */
  readonly clear: boolean;
  readonly status: () => string[];
}

export class Ui {
  constructor(private readonly o: UiOptions) {}

  /** Shows the screen and waits for one line, trimmed. Throws EndOfInput when input ends. */
  async ask(screen: Screen, prompt: string, page = 0, message = ''): Promise<string> {
    this.o.write(`${this.o.clear ? '\x1b[H\x1b[2J' : '\n'}${renderScreen(this.o.status(), screen, page, message)}`);
    const line = await this.o.lines.next(prompt);
    if (line === null) throw new EndOfInput();
    return line.trim();
  }

  /**
   * A menu screen rebuilt from the store before every showing (so Enter refreshes), paged with 8/9
   * (or n/p), left with 0 or q. Other input goes to `handle`. `refresh` runs before the first showing
   * and on each Enter (a history screen asks the running service to write what it holds).
   */
  async menu(
    build: () => Screen, handle: (choice: string) => Promise<HandlerResult> | HandlerResult, prompt = 'Choice: ',
    refresh?: () => Promise<unknown>,
  ): Promise<void> {
    let page = 0;
    let message = '';
    await refresh?.();
    for (;;) {
      const screen = build();
      const pages = pageCount(screen);
      page = Math.min(page, pages - 1);
      const choice = await this.ask(screen, prompt, page, message);
      message = '';
      const lower = choice.toLowerCase();
      if (lower === '0' || lower === 'q') return;
      if (choice === '') {
        await refresh?.();
        continue;
      }
      if (pages > 1 && (lower === '8' || lower === 'n')) { page = Math.min(page + 1, pages - 1); continue; }
      if (pages > 1 && (lower === '9' || lower === 'p')) { page = Math.max(page - 1, 0); continue; }
      const result = await handle(choice);
      if (result === BACK) return;
      if (typeof result === 'string') message = result;
    }
  }

  /** One question under a screen; null when the operator typed 0 or q (cancel). */
  async prompt(screen: Screen, prompt: string): Promise<string | null> {
    const answer = await this.ask(screen, prompt);
    return answer === '0' || answer.toLowerCase() === 'q' ? null : answer;
  }

  /** Shows a result until Enter (or anything). */
  async pause(screen: Screen): Promise<void> {
    await this.ask(screen, 'Press Enter: ');
  }
}
