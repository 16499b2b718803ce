import type { Config } from '../../config/types.js';
import type { Store } from '../../store/index.js';
import type { Ui } from '../ui.js';

/**
 * What a screen of its own file (screens/) gets from the console. A screen that must close the store
 * (restore, factory reset: nothing may hold it while it is replaced) ends the console afterwards with
 * `leave(text)`: its last words, written without the status lines (which read the store), then the end.
 */
export interface ScreenContext {
  readonly ui: Ui;
  readonly store: Store;
  /** The config in force (its `file` is the config file). */
  readonly config: Config;
  readonly now: () => number;
  leave(text: string): never;
}
