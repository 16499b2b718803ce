import type { Config } from '../../config/types.js';
import type { BindingFilter } from '../../ops/bindings.js';
import type { ConfigInForce } from '../../ops/config-follow.js';
import type { Store } from '../../store/index.js';
import type { Ui } from '../ui.js';

/**
 * What a screen (one file each in screens/) gets from the console app. The app makes one for the console's
 * life. A screen that must close the store (restore, factory reset: nothing may hold it while it is
 * replaced) ends the console afterwards with `leave(text)`: its last words, written without the status
 * lines (which read the store), then the end.
 */
export interface ScreenContext {
  readonly ui: Ui;
  readonly store: Store;
  readonly now: () => number;
  /** The config the running service has in force (ops/config-follow.ts), read afresh (a new read transaction). */
  inForce(): ConfigInForce;
  /** inForce().config: the config every screen reads (its `file` is the config file). */
  config(): Config;
  /** Whether the service is running, read afresh. */
  running(): boolean;
  /** The binding filter: set in Registrations, used by Export, kept while the console runs. */
  filter: BindingFilter;
  /**
   * The history screens (Why, failed registrations, event log) show what the service answered up to now:
   * its history rows reach the store with its flush, so they ask it to flush first, as `sipreg events` does.
   */
  historyNow(): Promise<boolean>;
  leave(text: string): never;
}
