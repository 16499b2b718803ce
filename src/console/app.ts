/**
 * `sipreg console`: numbered menus over the store, for a serial line or an SSH login. This is the shell:
 * the main menu, the status lines and alerts around it, and what every screen shares (ScreenContext);
 * each screen is one file in screens/. A screen is built from the store when shown (Enter refreshes);
 * actions are store writes the running service sees at once. Flows are plain async functions over Ui, so
 * they read top to bottom.
 */
import type { Config } from '../config/types.js';
import { readService, serviceRunning, type Store } from '../store/index.js';
import { activeAlerts } from '../stats/active-alerts.js';
import { ConfigFollower, type ConfigInForce } from '../ops/config-follow.js';
import { requestFlush } from '../ops/actions.js';
import { formatClock, wrap } from '../ops/format.js';
import { readStatus, statusLines, type Status } from '../ops/status.js';
import { unknownChoice } from './screen.js';
import { EndOfInput, Ui, type LineSource } from './ui.js';
import type { ScreenContext } from './screens/context.js';
import { registrationsScreen } from './screens/registrations.js';
import { forceUnregisterScreen } from './screens/force-unregister.js';
import { whyScreen } from './screens/why.js';
import { exportScreen } from './screens/export-csv.js';
import { analysisScreen } from './screens/analysis.js';
import { lockoutsScreen } from './screens/lockouts.js';
import { trunksScreen } from './screens/trunks.js';
import { parametersScreen } from './screens/parameters.js';
import { eventLogScreen } from './screens/event-log.js';
import { backupScreen } from './screens/backup.js';
import { restoreScreen } from './screens/restore.js';
import { factoryResetScreen } from './screens/factory-reset.js';
import { firmwareMenu } from './screens/firmware.js';

export interface ConsoleOptions {
  readonly store: Store;
  readonly config: Config;
  readonly write: (text: string) => void;
  readonly lines: LineSource;
  readonly clear: boolean;
  readonly now?: () => number;
}

export class ConsoleApp {
  /** The config the running service has in force: every screen reads it through here. */
  private readonly follower: ConfigFollower;
  private readonly store: Store;
  private readonly now: () => number;
  private readonly screens: ScreenContext;
  readonly ui: Ui;

  constructor(o: ConsoleOptions) {
    this.store = o.store;
    this.follower = new ConfigFollower(o.store, o.config);
    this.now = o.now ?? Date.now;
    this.ui = new Ui({ write: o.write, lines: o.lines, clear: o.clear, status: () => statusLines(this.status()) });
    this.screens = {
      ui: this.ui, store: o.store, now: this.now, filter: {},
      inForce: () => this.inForce(),
      config: () => this.inForce().config,
      historyNow: () => requestFlush(this.store),
      running: () => {
        this.store.root.resetReadTxn();
        return serviceRunning(readService(this.store), this.now());
      },
      // Written plainly (the store may be closed, so no status lines), then the console ends.
      leave: (text) => { o.write(`\n${wrap(text, 80, '').join('\n')}\n`); throw new EndOfInput(); },
    };
  }

  private inForce(): ConfigInForce {
    this.store.root.resetReadTxn();
    return this.follower.current(this.now());
  }

  private status(): Status {
    return readStatus(this.store, this.inForce(), this.now());
  }

  /** Runs until 0/q on the main menu or the end of input; the exit code is always 0. */
  async run(): Promise<number> {
    const c = this.screens;
    try {
      await this.ui.menu(() => ({
        title: 'sipreg console',
        body: [
          ' 1  Registrations        (table, filters, details)',
          ' 2  Force unregister     (one number or one contact; kick and hold)',
          ' 3  Why                  (why a phone does or does not register)',
          ' 4  Export to CSV',
          ' 5  Analysis             (counts over time, rates, devices, areas, failures)',
          ' 6  Lockouts             (suspended numbers and addresses)',
          ' 7  Trunks               (outbound registrations)',
          ' 8  Parameters           (SS_* values in force; reload the config)',
          ' 9  Event log',
          '10  Backup               (store and config to one file, service running)',
          '11  Restore              (a backup back in place; service stopped)',
          '12  Factory reset        (erase data and pushed config; service stopped)',
          '13  Firmware             (slots, versions; install an update)',
          ...this.alertsBelowMenu(),
        ],
        menu: ['Type a number and Enter; 0 or q goes back (here: quits). Enter alone refreshes.'],
      }), async (choice) => {
        switch (choice) {
          case '1': await registrationsScreen(c); return;
          case '2': return forceUnregisterScreen(c);
          case '3': await whyScreen(c); return;
          case '4': return exportScreen(c);
          case '5': await analysisScreen(c); return;
          case '6': await lockoutsScreen(c); return;
          case '7': await trunksScreen(c); return;
          case '8': await parametersScreen(c); return;
          case '9': await eventLogScreen(c); return;
          case '10': return backupScreen(c);
          case '11': return restoreScreen(c);
          case '12': return factoryResetScreen(c);
          case '13': await firmwareMenu(this.ui); return;
          default: return unknownChoice(choice);
        }
      });
    } catch (err) {
      if (!(err instanceof EndOfInput)) throw err;
    }
    return 0;
  }

  /** The active alerts under the main menu (the status line has room for one). */
  private alertsBelowMenu(): string[] {
    // Not this.status(): that also counts every binding, which the status line does already.
    const nowMs = this.now();
    const config = this.inForce().config;
    const alerts = activeAlerts({ store: this.store, config, nowMs, running: serviceRunning(readService(this.store), nowMs) });
    if (alerts.length === 0) return [];
    const lines = alerts.flatMap((a) => wrap(`${formatClock(a.sinceMs)} ${a.detail}`, 78, '        ').map((l) => `  ${l}`));
    return ['', `Active alerts (${alerts.length}):`, ...lines.slice(0, 7), ...(lines.length > 7 ? ['  ... (all of them: sipreg stats)'] : [])];
  }
}
