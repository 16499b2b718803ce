import type { Config } from './config/types.js';
import type { Store, CommandRecord, StoreFlush } from './store/index.js';
import type { Logger } from './log.js';

/** What the service hands every part it runs. */
export interface ServiceContext {
  readonly store: Store;
  /** The periodic flush every non-urgent write joins (store/flush.ts): one transaction per interval. */
  readonly writes: StoreFlush;
  readonly log: Logger;
  /** The config in force; replaced on a successful reload. */
  config(): Config;
}

/**
 * A long-running part of the service (registrar, trunks, housekeeping ...). The service starts them in
 * order, hands each a new Config on a valid reload, passes on operator commands, and stops them in
 * reverse order on SIGTERM.
 */
export interface Component {
  readonly name: string;
  start(): Promise<void>;
  reload(next: Config, previous: Config): void | Promise<void>;
  /** Operator command from the store; return true when handled. */
  command?(cmd: CommandRecord): boolean | Promise<boolean>;
  /** The service can no longer keep what it answers (its data_dir is gone): refuse new work from now on. */
  suspend?(): void;
  stop(): Promise<void>;
}
