/**
 * `sipreg console`: numbered menus over the store, for a serial line or an SSH login.
 * Each screen is built from the store when shown (Enter refreshes); actions are store writes the
 * running service sees at once. Flows are plain async functions over Ui, so they read top to bottom.
 */
import { boundedTimeout } from '../timers.js';
import { writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { renderParamsListing } from '../config/index.js';
import type { Config } from '../config/types.js';
import {
  activeLockouts, bindingsOf, queryEvents, readService, serviceRunning,
  type EventRecord, type EventType, type Store,
} from '../store/index.js';
import { ratesLines } from '../ops/rates.js';
import { countersLines } from '../ops/counters.js';
import { readCountersSnapshot } from '../stats/sampler.js';
import { operatorLimits } from '../limits.js';
import { activeAlerts } from '../stats/active-alerts.js';
import { analyse, failedLog, trend, type TrendWindow } from '../stats/analysis.js';
import { forceUnregister, liftLockoutKey, requestFlush, requestReload, requestTrunkReregister, type HoldTarget } from '../ops/actions.js';
import {
  BINDING_STATUSES, bindingDetails, bindingsCsv, bindingsTable, describeFilter, findBindings, isFilterProblem,
  makeFilter, type BindingFilter,
} from '../ops/bindings.js';
import { barChart, columnChart } from '../ops/chart.js';
import { ConfigFollower, type ConfigInForce } from '../ops/config-follow.js';
import { cut, formatClock, formatDateTime, formatDuration, table, wrap } from '../ops/format.js';
import {
  DECISION_TYPES, EVENT_TYPES, eventLines, FAILED_TYPES, isEventType, lockoutDetails, lockoutsTable, lockoutTarget,
} from '../ops/history.js';
import { menuLines, type Screen } from './screen.js';
import { readStatus, statusLines, type Status } from '../ops/status.js';
import { trunkDetails, trunksTable, trunkViews } from '../ops/trunks.js';
import { eventWords, lockoutWords } from '../ops/words.js';
import { EndOfInput, Ui, type LineSource } from './ui.js';
import { backupScreen } from './screens/backup.js';
import { restoreScreen } from './screens/restore.js';
import { factoryResetScreen } from './screens/factory-reset.js';
import type { ScreenContext } from './screens/context.js';
import { firmwareMenu } from './screens/firmware.js';

/** How long the Parameters screen waits for the service to report a reload. */
const RELOAD_WAIT_MS = 10_000;
/** Rows of history a screen reads at most (newest first): enough pages for a person. */
const EVENTS_SHOWN_MAX = 1_000;
const HOLD_S_MAX = operatorLimits.holdSMax;

export interface ConsoleOptions {
  readonly store: Store;
  readonly config: Config;
  readonly write: (text: string) => void;
  readonly lines: LineSource;
  readonly clear: boolean;
  readonly now?: () => number;
}

const pick = (items: string[]): string[] => menuLines(items);

/** Event lines as one screen body whose pages never split an event. */
function eventBlocks(events: readonly EventRecord[]): { body: string[]; blocks: number[] } {
  const body: string[] = [];
  const blocks: number[] = [];
  for (const e of events) {
    blocks.push(body.length);
    body.push(...eventLines(e));
  }
  return { body, blocks };
}

export class ConsoleApp {
  /** The config the running service has in force: every screen reads it through here. */
  private readonly follower: ConfigFollower;
  private filter: BindingFilter = {};
  private readonly store: Store;
  private readonly now: () => number;
  private readonly write: (text: string) => void;
  readonly ui: Ui;

  constructor(o: ConsoleOptions) {
    this.store = o.store;
    this.write = o.write;
    this.follower = new ConfigFollower(o.store, o.config);
    this.now = o.now ?? Date.now;
    this.ui = new Ui({ write: o.write, lines: o.lines, clear: o.clear, status: () => statusLines(this.status()) });
  }

  /**
   * The history screens (Why, failed registrations, event log) show what the service answered up to now:
   * its history rows reach the store with its flush, so they ask it to flush first, as `sipreg events` does.
   */
  private readonly historyNow = (): Promise<boolean> => requestFlush(this.store);

  private inForce(): ConfigInForce {
    this.store.root.resetReadTxn();
    return this.follower.current(this.now());
  }

  private get config(): Config {
    return this.inForce().config;
  }

  private status(): Status {
    return readStatus(this.store, this.inForce(), this.now());
  }

  /** Runs until 0/q on the main menu or the end of input; the exit code is always 0. */
  async run(): Promise<number> {
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
          case '1': await this.registrations(); return;
          case '2': return this.forceUnregisterFlow();
          case '3': await this.why(); return;
          case '4': return this.exportFlow();
          case '5': await this.analysis(); return;
          case '6': await this.lockouts(); return;
          case '7': await this.trunks(); return;
          case '8': await this.parameters(); return;
          case '9': await this.eventLog(); return;
          case '10': return backupScreen(this.screenContext());
          case '11': return restoreScreen(this.screenContext());
          case '12': return factoryResetScreen(this.screenContext());
          case '13': await firmwareMenu(this.ui); return;
          default: return unknown(choice);
        }
      });
    } catch (err) {
      if (!(err instanceof EndOfInput)) throw err;
    }
    return 0;
  }

  /** For the screens in screens/: leave() writes plainly (the store may be closed) and ends the console. */
  private screenContext(): ScreenContext {
    return {
      ui: this.ui, store: this.store, config: this.config, now: this.now,
      leave: (text) => { this.write(`\n${wrap(text, 80, '').join('\n')}\n`); throw new EndOfInput(); },
    };
  }

  /** The active alerts under the main menu (the status line has room for one). */
  private alertsBelowMenu(): string[] {
    // Not this.status(): that also counts every binding, which the status line does already.
    const nowMs = this.now();
    const alerts = activeAlerts({ store: this.store, config: this.config, nowMs, running: serviceRunning(readService(this.store), nowMs) });
    if (alerts.length === 0) return [];
    const lines = alerts.flatMap((a) => wrap(`${formatClock(a.sinceMs)} ${a.detail}`, 78, '        ').map((l) => `  ${l}`));
    return ['', `Active alerts (${alerts.length}):`, ...lines.slice(0, 7), ...(lines.length > 7 ? ['  ... (all of them: sipreg stats)'] : [])];
  }

  // ---- 1 Registrations ----------------------------------------------------------------------------

  private async registrations(): Promise<void> {
    await this.ui.menu(() => {
      const nowMs = this.now();
      const bindings = findBindings(this.store, this.filter, nowMs);
      const f = describeFilter(this.filter);
      const tableLines = bindingsTable(bindings, nowMs);
      return {
        title: 'Registrations',
        head: [`${bindings.length} binding${bindings.length === 1 ? '' : 's'}${f === '' ? '' : `, filter: ${f}`} (at ${formatClock(nowMs)})`, tableLines[0]!],
        body: bindings.length === 0 ? ['(none)'] : tableLines.slice(1),
        menu: pick(['1 by number', '2 by IP/CIDR', '3 by account', '4 by status', '5 clear filters', '6 details', '7 refresh', '0 back']),
      };
    }, async (choice) => {
      const current = (): Screen => ({ title: 'Registrations: filter', body: [`Filter in force: ${describeFilter(this.filter) || '(none)'}`], menu: [] });
      switch (choice) {
        case '1': return this.setFilter('number', await this.ui.prompt(current(), 'Number (1001, or 10* for a prefix; Enter = any): '));
        case '2': return this.setFilter('ip', await this.ui.prompt(current(), 'Source IP or range (203.0.113.0/24; Enter = any): '));
        case '3': return this.setFilter('account', await this.ui.prompt(current(), 'Account (Enter = any): '));
        case '4': return this.setFilter('status', await this.ui.prompt(current(), `Status (${BINDING_STATUSES.join('/')}; Enter = any): `));
        case '5': this.filter = {}; return 'Filters cleared.';
        case '6': {
          const number = await this.ui.prompt({
            title: 'Registrations: details',
            body: ['Every stored field of one number\'s bindings, nothing cut: contact, source,',
              'expiry, User-Agent, Call-ID, NAT keepalive.'],
            menu: [],
          }, 'Details of number (0 = cancel): ');
          if (number !== null && number !== '') await this.details(number);
          return;
        }
        case '7': return;
        default: return unknown(choice);
      }
    });
  }

  private setFilter(field: 'number' | 'ip' | 'account' | 'status', value: string | null): string | void {
    if (value === null) return;
    const next = {
      number: this.filter.number, ip: this.filter.range?.text, account: this.filter.account, status: this.filter.status,
      [field]: value,
    };
    const f = makeFilter(next);
    if (isFilterProblem(f)) return `Not used: ${f.field} ${f.message}`;
    this.filter = f;
    return value === '' ? `${field} filter cleared.` : undefined;
  }

  private async details(number: string): Promise<void> {
    await this.ui.menu(() => {
      const nowMs = this.now();
      const bindings = bindingsOf(this.store, number);
      const body = bindings.length === 0 ? [`No registration for ${number}.`]
        : bindings.flatMap((b, i) => [...(i > 0 ? [''] : []), ...bindingDetails(b, nowMs)]);
      return { title: `Details: ${number}`, body, menu: pick(['Enter refresh', '0 back']) };
    }, unknown);
  }

  // ---- 2 Force unregister -------------------------------------------------------------------------

  private async forceUnregisterFlow(): Promise<string | void> {
    const base: Screen = {
      title: 'Force unregister',
      body: ['Removes a binding now; the phone learns it at its next REGISTER (no NOTIFY).',
        'With a hold, the number (or its source address) is refused for that long,',
        'so a phone with a stolen password does not come straight back.'],
      menu: [],
    };
    const number = await this.ui.prompt(base, 'Number (0 = cancel): ');
    if (number === null || number === '') return;
    const nowMs = this.now();
    const bindings = bindingsOf(this.store, number);
    if (bindings.length === 0) return `No registration for ${number}: nothing to remove.`;
    const listing: Screen = {
      title: `Force unregister ${number}`,
      head: table([{ title: '#', align: 'right' }, { title: 'CONTACT', minCols: 20 }, { title: 'SOURCE' }, { title: 'LEFT' }],
        bindings.map((b, i) => [String(i + 1), b.contact, b.source, formatDuration((b.expiresAtMs - nowMs) / 1000)])),
      body: [],
      menu: [],
    };
    let contact: string | undefined;
    for (;;) {
      const which = await this.ui.prompt(listing, 'Contact # to remove (Enter = all of them, 0 = cancel): ');
      if (which === null) return 'Cancelled.';
      if (which === '') break;
      const b = bindings[Number(which) - 1];
      if (/^\d+$/.test(which) && b !== undefined) { contact = b.contactKey; break; }
    }
    let holdS = 0;
    let holdTarget: HoldTarget = 'number';
    for (;;) {
      const hold = await this.ui.prompt(listing, `Hold for how many seconds (1..${HOLD_S_MAX}; Enter = no hold): `);
      if (hold === null) return 'Cancelled.';
      if (hold === '') break;
      if (/^\d+$/.test(hold) && Number(hold) >= 1 && Number(hold) <= HOLD_S_MAX) { holdS = Number(hold); break; }
    }
    if (holdS > 0) {
      const t = await this.ui.prompt(listing, 'Refuse 1 the number, 2 its source address (Enter = 1): ');
      if (t === null) return 'Cancelled.';
      holdTarget = t === '2' ? 'address' : 'number';
    }
    const what = contact === undefined ? `all ${bindings.length} binding(s) of ${number}` : `${number} contact ${contact}`;
    const holdText = holdS === 0 ? '' : `, then refuse the ${holdTarget === 'number' ? 'number' : 'source address'} for ${holdS}s`;
    const confirm = await this.ui.prompt({ ...listing, body: ['', ...wrap(`Remove ${what}${holdText}?`, 80)] }, 'Type 1 to confirm, 0 to cancel: ');
    if (confirm !== '1') return 'Cancelled: nothing removed.';
    const result = await forceUnregister(this.store, number, { contact, holdS, holdTarget, by: 'console' });
    if (result.removed.length === 0) return `Nothing removed: ${number} changed meanwhile.`;
    return `Removed ${result.removed.length} binding(s) of ${number}${result.hold.length > 0 ? `; held ${result.hold.map(lockoutTarget).join(', ')} ${holdS}s` : ''}.`;
  }

  // ---- 3 Why ----------------------------------------------------------------------------------------

  private async why(): Promise<void> {
    const number = await this.ui.prompt({
      title: 'Why',
      body: ['The REGISTERs seen from one number and what the registrar decided for each,',
        'newest first, with the rule that fired.'],
      menu: [],
    }, 'Number (0 = cancel): ');
    if (number === null || number === '') return;
    await this.ui.menu(() => {
      const why = this.whyScreen(number);
      return { title: `Why: ${number}`, ...why, paging: 'time', menu: pick(['Enter refresh', '0 back']) };
    }, unknown, undefined, this.historyNow);
  }

  /** The Why screen's body: the number's standing, then its decisions newest first, one block each. */
  whyScreen(number: string): { body: string[]; blocks: number[] } {
    const nowMs = this.now();
    const out: string[] = [];
    const cif = this.inForce();
    const account = cif.config.accounts.find((a) => a.number === number);
    const which = cif.record === null ? '' : ` (generation ${cif.record.generation}, in force)`;
    if (cif.problem !== null) {
      out.push(...wrap(`Account check skipped: ${cif.problem}.`, 80));
    } else {
      out.push(...wrap(account === undefined
        ? `${number} is NOT in the config's accounts${which}: every REGISTER from it fails authentication.`
        : `${number}: account ${account.account || '-'}, auth ${account.authMode}` +
          `${account.allow.length > 0 ? `, allowed from ${account.allow.map((a) => a.cidr.text).join(' ')}` : ''}`, 80, '  '));
    }
    const bindings = bindingsOf(this.store, number);
    out.push(bindings.length === 0 ? 'Not registered now.'
      : `Registered now: ${bindings.map((b) => `${b.source} (${formatDuration((b.expiresAtMs - nowMs) / 1000)} left)`).join(', ')}`);
    const locks = activeLockouts(this.store, nowMs).filter((l) => l.number === number || bindings.some((b) => b.sourceAddress === l.address && l.kind === 'address'));
    for (const l of locks) out.push(...wrap(`SUSPENDED: ${lockoutTarget(l)} for ${formatDuration((l.untilMs - nowMs) / 1000)} more (${lockoutWords(l)})`, 80, '  '));
    const events = queryEvents(this.store, { number, type: DECISION_TYPES, newestFirst: true, limit: 50 });
    out.push('');
    if (events.length === 0) {
      out.push(...wrap('No REGISTER from this number has been recorded. Check the phone\'s registrar address and port, ' +
        'the network path to this appliance, and the phone\'s user name.', 80));
    }
    const decisions = eventBlocks(events);
    return { body: [...out, ...decisions.body].map((l) => cut(l, 80)), blocks: [0, ...decisions.blocks.map((b) => b + out.length)] };
  }

  /** The Why screen's lines (tests read them whole). */
  whyLines(number: string): string[] {
    return this.whyScreen(number).body;
  }

  // ---- 4 Export -------------------------------------------------------------------------------------

  private async exportFlow(): Promise<string | void> {
    const nowMs = this.now();
    const d = new Date(nowMs);
    const stamp = `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}-` +
      `${String(d.getHours()).padStart(2, '0')}${String(d.getMinutes()).padStart(2, '0')}${String(d.getSeconds()).padStart(2, '0')}`;
    const defaultPath = join(this.store.dataDir, `registrations-${stamp}.csv`);
    const bindings = findBindings(this.store, this.filter, nowMs);
    const f = describeFilter(this.filter);
    const answer = await this.ui.prompt({
      title: 'Export to CSV',
      body: [`${bindings.length} binding(s) to export; filter: ${f === '' ? '(none: the full list)' : f}`,
        '(set or clear the filter in 1 Registrations)', '', 'Default file:', ...wrap(defaultPath, 78, '  ')],
      menu: [],
    }, 'File (Enter = default, 0 = cancel): ');
    if (answer === null) return 'Export cancelled.';
    const path = answer === '' ? defaultPath : isAbsolute(answer) ? answer : resolve(this.store.dataDir, answer);
    try {
      writeFileSync(path, bindingsCsv(bindings, nowMs));
    } catch (err) {
      return cut(`Export failed: ${path}: ${err instanceof Error ? err.message : String(err)}`, 80);
    }
    await this.ui.pause({ title: 'Export to CSV', body: [`Wrote ${bindings.length} row(s) to`, ...wrap(path, 78, '  ')], menu: [] });
    return cut(`Exported ${bindings.length} row(s) to ${path}`, 80);
  }

  // ---- 5 Analysis -----------------------------------------------------------------------------------

  private async analysis(): Promise<void> {
    await this.ui.menu(() => {
      const a = analyse(this.store, this.config, this.now());
      const r = a.last5min;
      const h = a.lastHour;
      return {
        title: 'Analysis',
        body: [
          `Registered now: ${a.registered} (behind NAT ${a.nat})`,
          `Last 5 min: ${r.registersPerS.toFixed(2)} REGISTER/s, ${r.acceptedPerS.toFixed(2)} accepted/s, ` +
            `auth failures ${r.authFailuresPerS.toFixed(2)}/s (${(r.authFailureRatio * 100).toFixed(1)}%)`,
          `Last hour:  ${h.registersPerS.toFixed(2)} REGISTER/s, avg processing ${h.avgProcessingMs === null ? '-' : `${h.avgProcessingMs.toFixed(3)} ms`}`,
          `Device types: ${a.deviceTypes.length}, areas: ${a.areas.length}`,
          '',
          ' 1  Registration count, last hour      5  Device types (User-Agent)',
          ' 2  Registration count, last day       6  Areas',
          ' 3  Registration count, last week      7  Failed registrations',
          ' 4  Rates and processing time          8  Counters since the service started',
        ],
        menu: pick(['Enter refresh', '0 back']),
      };
    }, async (choice) => {
      switch (choice) {
        case '1': await this.trendScreen('hour'); return;
        case '2': await this.trendScreen('day'); return;
        case '3': await this.trendScreen('week'); return;
        case '4': await this.show('Rates', () => this.ratesLines()); return;
        case '8': await this.show('Counters', () => countersLines(readCountersSnapshot(this.store))); return;
        case '5': await this.show('Device types (by User-Agent)', () => {
          const a = analyse(this.store, this.config, this.now());
          return [`${a.registered} binding(s), ${a.deviceTypes.length} type(s)`, ...barChart(a.deviceTypes)];
        }); return;
        case '6': await this.show('Areas (configured areas, then /24 or /64)', () => {
          const a = analyse(this.store, this.config, this.now());
          const bars = barChart(a.areas.map((x) => ({ name: `${x.configured ? '' : '~ '}${x.name}`, count: x.count })));
          return a.areas.some((x) => !x.configured)
            ? ['~ = not in a configured area (areas:), grouped by its /24 (IPv4) or /64 (IPv6)', '', ...bars]
            : bars;
        }); return;
        case '7': await this.failedRegistrations(); return;
        default: return unknown(choice);
      }
    });
  }

  private ratesLines(): string[] {
    return [...ratesLines(analyse(this.store, this.config, this.now())), '', 'Samples are written by the running service once a minute.'];
  }

  private async trendScreen(window: TrendWindow): Promise<void> {
    await this.show(`Registration count, last ${window}`, () => {
      const nowMs = this.now();
      const a = analyse(this.store, this.config, nowMs);
      const pts = trend(a.samples, nowMs, window);
      const label = (ms: number): string => (window === 'hour' ? formatClock(ms) : formatDateTime(ms).slice(5, 16));
      const each = window === 'hour' ? '1 min' : window === 'day' ? '30 min' : '3 hours';
      const known = pts.filter((p) => p.registered !== null);
      return [
        `One column per ${each}; now ${a.registered}` +
          (known.length > 0 ? `, min ${Math.min(...known.map((p) => p.min!))}, max ${Math.max(...known.map((p) => p.max!))}` : ''),
        '',
        ...columnChart(pts.map((p) => p.registered), 10, label(pts[0]!.atMs), label(nowMs)),
      ];
    });
  }

  /** The failed-registration log: why in the operator's words first; any row in full with its hint. */
  private async failedRegistrations(): Promise<void> {
    let events: EventRecord[] = [];
    await this.ui.menu(() => {
      this.store.root.resetReadTxn();
      events = failedLog(this.store, EVENTS_SHOWN_MAX);
      const t = table([{ title: '#', align: 'right' }, { title: 'TIME' }, { title: 'NUMBER', minCols: 6 }, { title: 'SOURCE', minCols: 11 },
        { title: 'WHY', minCols: 12 }],
      events.map((e, i) => [String(i + 1), formatDateTime(e.atMs).slice(5), e.number || '-', e.source || '-', eventWords(e)]));
      return {
        title: 'Failed registrations (newest first)',
        head: events.length === 0 ? [] : [t[0]!],
        body: events.length === 0 ? ['(none recorded)'] : t.slice(1),
        paging: 'time',
        menu: pick(['1 details of one', 'Enter refresh', '0 back']),
      };
    }, async (choice) => {
      if (choice !== '1') return unknown(choice);
      if (events.length === 0) return 'Nothing recorded.';
      const which = await this.ui.prompt({ title: 'Failed registrations: details', body: ['The row\'s event in full, and what to do about it.'], menu: [] },
        '# (0 = cancel): ');
      if (which === null || which === '') return;
      const e = /^\d+$/.test(which) ? events[Number(which) - 1] : undefined;
      if (e === undefined) return `No row #${which}.`;
      await this.ui.menu(() => ({ title: `Failed registration #${which}`, body: [`Why: ${eventWords(e)}`, '', ...eventLines(e)], menu: pick(['0 back']) }), unknown);
      return;
    }, undefined, this.historyNow);
  }

  /** A read-only screen, rebuilt on Enter, paged, left with 0. */
  private async show(title: string, body: () => string[]): Promise<void> {
    await this.ui.menu(() => ({ title, body: body(), menu: pick(['Enter refresh', '0 back']) }), unknown);
  }

  // ---- 6 Lockouts -----------------------------------------------------------------------------------

  private async lockouts(): Promise<void> {
    await this.ui.menu(() => {
      const nowMs = this.now();
      const ls = activeLockouts(this.store, nowMs);
      const t = lockoutsTable(ls, nowMs, 80, true);
      return {
        title: 'Lockouts',
        head: [`${ls.length} active suspension(s)`, ...(ls.length === 0 ? [] : [t[0]!])],
        body: ls.length === 0 ? ['(none)'] : t.slice(1),
        menu: pick(['1 lift one', '2 details of one', 'Enter refresh', '0 back']),
      };
    }, async (choice) => {
      if (choice === '2') return this.lockoutDetailsFlow();
      if (choice !== '1') return unknown(choice);
      const ls = activeLockouts(this.store, this.now());
      if (ls.length === 0) return 'Nothing to lift.';
      const which = await this.ui.prompt({ title: 'Lockouts: lift', body: lockoutsTable(ls, this.now(), 80, true), menu: [] }, '# to lift (0 = cancel): ');
      if (which === null || which === '') return;
      const l = /^\d+$/.test(which) ? ls[Number(which) - 1] : undefined;
      if (l === undefined) return `No lockout #${which}.`;
      const lifted = await liftLockoutKey(this.store, l.key, 'console');
      return lifted === null ? `${lockoutTarget(l)} had already ended.` : `Lifted: ${lockoutTarget(l)} may register again.`;
    });
  }

  private async lockoutDetailsFlow(): Promise<string | void> {
    const ls = activeLockouts(this.store, this.now());
    if (ls.length === 0) return 'No active suspension.';
    const which = await this.ui.prompt({ title: 'Lockouts: details', body: lockoutsTable(ls, this.now(), 80, true), menu: [] }, '# (0 = cancel): ');
    if (which === null || which === '') return;
    const l = /^\d+$/.test(which) ? ls[Number(which) - 1] : undefined;
    if (l === undefined) return `No lockout #${which}.`;
    await this.ui.menu(() => ({ title: `Lockout: ${lockoutTarget(l)}`, body: lockoutDetails(l, this.now()), menu: pick(['Enter refresh', '0 back']) }), unknown);
  }

  // ---- 7 Trunks -------------------------------------------------------------------------------------

  private async trunks(): Promise<void> {
    await this.ui.menu(() => {
      const nowMs = this.now();
      this.store.root.resetReadTxn();
      const views = trunkViews(this.store, this.config);
      const t = trunksTable(views, nowMs);
      return {
        title: 'Trunks',
        head: views.length === 0 ? [] : [t[0]!],
        body: views.length === 0 ? ['(no trunks in the config)'] : t.slice(1),
        menu: pick(['1 re-register one now', '2 details of one', 'Enter refresh', '0 back']),
      };
    }, async (choice) => {
      if (choice !== '1' && choice !== '2') return unknown(choice);
      const views = trunkViews(this.store, this.config);
      if (views.length === 0) return 'No trunks in the config.';
      const what = choice === '1' ? 're-register' : 'details';
      const name = await this.ui.prompt({ title: `Trunks: ${what}`, body: views.map((v, i) => `${i + 1}  ${v.name} (${v.state})`), menu: [] }, 'Trunk # or name (0 = cancel): ');
      if (name === null || name === '') return;
      const v = views.find((x, i) => x.name === name || String(i + 1) === name);
      if (v === undefined) return `No trunk ${name}.`;
      if (choice === '2') {
        await this.ui.menu(() => {
          this.store.root.resetReadTxn();
          const config = this.config;
          const now = trunkViews(this.store, config).find((x) => x.name === v.name);
          return { title: `Trunk: ${v.name}`, body: now === undefined ? [`${v.name} is no longer in the config.`] : trunkDetails(now, config, this.now()), menu: pick(['Enter refresh', '0 back']) };
        }, unknown);
        return;
      }
      if (!v.enabled) return `${v.name} is disabled in the config.`;
      await requestTrunkReregister(this.store, v.name);
      return this.running() ? `Asked the service to re-register ${v.name} now.`
        : `Queued: the service is down; ${v.name} registers when it starts.`;
    });
  }

  private running(): boolean {
    this.store.root.resetReadTxn();
    return serviceRunning(readService(this.store), this.now());
  }

  // ---- 8 Parameters ---------------------------------------------------------------------------------

  private async parameters(): Promise<void> {
    await this.ui.menu(() => {
      const cif = this.inForce();
      const from = cif.record === null ? '(the file; no service running)'
        : `(generation ${cif.record.generation}, loaded ${formatClock(cif.record.loadedAtMs)})`;
      return {
        title: 'Parameters in force',
        head: [cut(`Config: ${cif.config.file} ${from}`, 80), ...(cif.problem === null ? [] : [cut(cif.problem, 80)])],
        body: renderParamsListing(cif.config.params).trimEnd().split('\n'),
        menu: pick(['1 reload the config', 'Enter refresh', '0 back']),
      };
    }, async (choice) => {
      if (choice !== '1') return unknown(choice);
      return this.reload();
    });
  }

  private async reload(): Promise<string> {
    if (!this.running()) return 'The service is down: it reads the config when it starts.';
    const askedMs = Date.now();
    await requestReload(this.store);
    const deadline = askedMs + RELOAD_WAIT_MS;
    while (Date.now() < deadline) {
      await new Promise<void>((r) => boundedTimeout(r, 250));
      this.store.root.resetReadTxn();
      const result = queryEvents(this.store, { type: ['config_reloaded', 'config_refused'], sinceMs: askedMs - 1000 })
        .filter((e) => e.atMs >= askedMs - 1000).pop();
      if (result !== undefined) return this.reloadResult(result);
    }
    return 'No answer from the service within 10 s: see the Event log later.';
  }

  private async reloadResult(e: EventRecord): Promise<string> {
    if (e.type === 'config_reloaded') {
      // The screens follow the service's record of it (config-follow.ts); nothing to load here.
      const cif = this.inForce();
      return cif.problem ?? `Reloaded at ${formatClock(e.atMs)}: generation ${cif.record?.generation ?? '?'} is in force.`;
    }
    await this.ui.pause({ title: 'Reload refused: the running config is kept', body: wrap(e.detail, 80).flatMap((l) => l.split('; ')), menu: [] });
    return 'Reload refused: fix the file (sipreg check) and reload again.';
  }

  // ---- 9 Event log ----------------------------------------------------------------------------------

  private async eventLog(): Promise<void> {
    let number: string | undefined;
    let types: EventType[] | undefined;
    await this.ui.menu(() => {
      this.store.root.resetReadTxn();
      const events = queryEvents(this.store, {
        newestFirst: true, limit: EVENTS_SHOWN_MAX, ...(number === undefined ? {} : { number }), ...(types === undefined ? {} : { type: types }),
      });
      const f = [number === undefined ? '' : `number ${number}`, types === undefined ? '' : `type ${types.join(',')}`].filter((x) => x !== '').join(', ');
      const shown = eventBlocks(events);
      return {
        title: 'Event log (newest first)',
        head: [`${events.length}${events.length === EVENTS_SHOWN_MAX ? '+' : ''} event(s)${f === '' ? '' : `, filter: ${f}`}`],
        body: events.length === 0 ? ['(none)'] : shown.body,
        ...(events.length === 0 ? {} : { blocks: shown.blocks }),
        paging: 'time',
        menu: pick(['1 by number', '2 by type', '3 clear filters', 'Enter refresh', '0 back']),
      };
    }, async (choice) => {
      const screen: Screen = { title: 'Event log: filter', body: wrap(`Types: ${EVENT_TYPES.join(' ')}`, 80), menu: [] };
      switch (choice) {
        case '1': {
          const n = await this.ui.prompt(screen, 'Number (Enter = any): ');
          if (n !== null) number = n === '' ? undefined : n;
          return;
        }
        case '2': {
          const t = await this.ui.prompt(screen, 'Type(s), comma-separated (failed = the failures; Enter = any): ');
          if (t === null) return;
          if (t === '') { types = undefined; return; }
          const list = t === 'failed' ? [...FAILED_TYPES] : t.split(',').map((s) => s.trim());
          const bad = list.find((x) => !isEventType(x));
          if (bad !== undefined) return `Unknown type '${bad}'.`;
          types = list.filter(isEventType);
          return;
        }
        case '3': number = undefined; types = undefined; return 'Filters cleared.';
        default: return unknown(choice);
      }
    }, undefined, this.historyNow);
  }
}

function unknown(choice: string): string {
  return cut(`Unknown choice '${choice}': type a number from the menu, 0 to go back.`, 80);
}

