/** Console: 9 Event log, the history newest first with its filters; eventBlocks pages it (Why uses it too). */
import { queryEvents, type EventRecord, type EventType } from '../../store/index.js';
import { wrap } from '../../ops/format.js';
import { EVENT_TYPES, eventLines, FAILED_TYPES, isEventType } from '../../ops/history.js';
import { menuLines, unknownChoice, type Screen } from '../screen.js';
import type { ScreenContext } from './context.js';

/** Rows of history a screen reads at most (newest first): enough pages for a person. */
export const EVENTS_SHOWN_MAX = 1_000;

/** Event lines as one screen body whose pages never split an event. */
export function eventBlocks(events: readonly EventRecord[]): { body: string[]; blocks: number[] } {
  const body: string[] = [];
  const blocks: number[] = [];
  for (const e of events) {
    blocks.push(body.length);
    body.push(...eventLines(e));
  }
  return { body, blocks };
}

/** 9 Event log: the history newest first, filtered by number or type. */
export async function eventLogScreen(c: ScreenContext): Promise<void> {
  let number: string | undefined;
  let types: EventType[] | undefined;
  await c.ui.menu(() => {
    c.store.root.resetReadTxn();
    const events = queryEvents(c.store, {
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
      menu: menuLines(['1 by number', '2 by type', '3 clear filters', 'Enter refresh', '0 back']),
    };
  }, async (choice) => {
    const screen: Screen = { title: 'Event log: filter', body: wrap(`Types: ${EVENT_TYPES.join(' ')}`, 80), menu: [] };
    switch (choice) {
      case '1': {
        const n = await c.ui.prompt(screen, 'Number (Enter = any): ');
        if (n !== null) number = n === '' ? undefined : n;
        return;
      }
      case '2': {
        const t = await c.ui.prompt(screen, 'Type(s), comma-separated (failed = the failures; Enter = any): ');
        if (t === null) return;
        if (t === '') { types = undefined; return; }
        const list = t === 'failed' ? [...FAILED_TYPES] : t.split(',').map((s) => s.trim());
        const bad = list.find((x) => !isEventType(x));
        if (bad !== undefined) return `Unknown type '${bad}'.`;
        types = list.filter(isEventType);
        return;
      }
      case '3': number = undefined; types = undefined; return 'Filters cleared.';
      default: return unknownChoice(choice);
    }
  }, undefined, c.historyNow);
}
