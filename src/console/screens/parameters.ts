/** Console: 8 Parameters, the SS_* values in force, and a reload the running service reports back on. */
import { boundedTimeout } from '../../timers.js';
import { renderParamsListing } from '../../config/index.js';
import { queryEvents, type EventRecord } from '../../store/index.js';
import { requestReload } from '../../ops/actions.js';
import { cut, formatClock, wrap } from '../../ops/format.js';
import { menuLines, unknownChoice } from '../screen.js';
import type { ScreenContext } from './context.js';

/** How long the Parameters screen waits for the service to report a reload. */
const RELOAD_WAIT_MS = 10_000;

/** 8 Parameters: the SS_* values in force and where they come from; reload the config. */
export async function parametersScreen(c: ScreenContext): Promise<void> {
  await c.ui.menu(() => {
    const cif = c.inForce();
    const from = cif.record === null ? '(the file; no service running)'
      : `(generation ${cif.record.generation}, loaded ${formatClock(cif.record.loadedAtMs)})`;
    return {
      title: 'Parameters in force',
      head: [cut(`Config: ${cif.config.file} ${from}`, 80), ...(cif.problem === null ? [] : [cut(cif.problem, 80)])],
      body: renderParamsListing(cif.config.params).trimEnd().split('\n'),
      menu: menuLines(['1 reload the config', 'Enter refresh', '0 back']),
    };
  }, async (choice) => {
    if (choice !== '1') return unknownChoice(choice);
    return reload(c);
  });
}

/** Asks the running service to reload and waits (up to RELOAD_WAIT_MS) for its event saying how it went. */
async function reload(c: ScreenContext): Promise<string> {
  if (!c.running()) return 'The service is down: it reads the config when it starts.';
  const askedMs = Date.now();
  await requestReload(c.store);
  const deadline = askedMs + RELOAD_WAIT_MS;
  while (Date.now() < deadline) {
    await new Promise<void>((r) => boundedTimeout(r, 250));
    c.store.root.resetReadTxn();
    const result = queryEvents(c.store, { type: ['config_reloaded', 'config_refused'], sinceMs: askedMs - 1000 })
      .filter((e) => e.atMs >= askedMs - 1000).pop();
    if (result !== undefined) return reloadResult(c, result);
  }
  return 'No answer from the service within 10 s: see the Event log later.';
}

/** The reload's outcome as a message; a refusal is shown in full first. */
async function reloadResult(c: ScreenContext, e: EventRecord): Promise<string> {
  if (e.type === 'config_reloaded') {
    // The screens follow the service's record of it (config-follow.ts); nothing to load here.
    const cif = c.inForce();
    return cif.problem ?? `Reloaded at ${formatClock(e.atMs)}: generation ${cif.record?.generation ?? '?'} is in force.`;
  }
  await c.ui.pause({ title: 'Reload refused: the running config is kept', body: wrap(e.detail, 80).flatMap((l) => l.split('; ')), menu: [] });
  return 'Reload refused: fix the file (sipreg check) and reload again.';
}
