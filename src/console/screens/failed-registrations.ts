/** Console: Analysis, 7 Failed registrations (the log of stats/analysis.ts's failedLog). */
import type { EventRecord } from '../../store/index.js';
import { failedLog } from '../../stats/analysis.js';
import { formatDateTime, table } from '../../ops/format.js';
import { eventLines } from '../../ops/history.js';
import { eventWords } from '../../ops/words.js';
import { menuLines, unknownChoice } from '../screen.js';
import { EVENTS_SHOWN_MAX } from './event-log.js';
import type { ScreenContext } from './context.js';

/** The failed-registration log: why in the operator's words first; any row in full with its hint. */
export async function failedRegistrationsScreen(c: ScreenContext): Promise<void> {
  let events: EventRecord[] = [];
  await c.ui.menu(() => {
    c.store.root.resetReadTxn();
    events = failedLog(c.store, EVENTS_SHOWN_MAX);
    const t = table([{ title: '#', align: 'right' }, { title: 'TIME' }, { title: 'NUMBER', minCols: 6 }, { title: 'SOURCE', minCols: 11 },
      { title: 'WHY', minCols: 12 }],
    events.map((e, i) => [String(i + 1), formatDateTime(e.atMs).slice(5), e.number || '-', e.source || '-', eventWords(e)]));
    return {
      title: 'Failed registrations (newest first)',
      head: events.length === 0 ? [] : [t[0]!],
      body: events.length === 0 ? ['(none recorded)'] : t.slice(1),
      paging: 'time',
      menu: menuLines(['1 details of one', 'Enter refresh', '0 back']),
    };
  }, async (choice) => {
    if (choice !== '1') return unknownChoice(choice);
    if (events.length === 0) return 'Nothing recorded.';
    const which = await c.ui.prompt({ title: 'Failed registrations: details', body: ['The row\'s event in full, and what to do about it.'], menu: [] },
      '# (0 = cancel): ');
    if (which === null || which === '') return;
    const e = /^\d+$/.test(which) ? events[Number(which) - 1] : undefined;
    if (e === undefined) return `No row #${which}.`;
    await c.ui.menu(() => ({ title: `Failed registration #${which}`, body: [`Why: ${eventWords(e)}`, '', ...eventLines(e)], menu: menuLines(['0 back']) }), unknownChoice);
    return;
  }, undefined, c.historyNow);
}
