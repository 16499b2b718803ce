/** Console: 1 Registrations, the bindings table with its filters and one number's details. */
import { bindingsOf } from '../../store/index.js';
import {
  BINDING_STATUSES, bindingDetails, bindingsTable, describeFilter, findBindings, isFilterProblem, makeFilter,
} from '../../ops/bindings.js';
import { formatClock } from '../../ops/format.js';
import { menuLines, unknownChoice, type Screen } from '../screen.js';
import type { ScreenContext } from './context.js';

/** 1 Registrations: the bindings under the filter in force, the filter set one field at a time, details. */
export async function registrationsScreen(c: ScreenContext): Promise<void> {
  await c.ui.menu(() => {
    const nowMs = c.now();
    const bindings = findBindings(c.store, c.filter, nowMs);
    const f = describeFilter(c.filter);
    const tableLines = bindingsTable(bindings, nowMs);
    return {
      title: 'Registrations',
      head: [`${bindings.length} binding${bindings.length === 1 ? '' : 's'}${f === '' ? '' : `, filter: ${f}`} (at ${formatClock(nowMs)})`, tableLines[0]!],
      body: bindings.length === 0 ? ['(none)'] : tableLines.slice(1),
      menu: menuLines(['1 by number', '2 by IP/CIDR', '3 by account', '4 by status', '5 clear filters', '6 details', '7 refresh', '0 back']),
    };
  }, async (choice) => {
    const current = (): Screen => ({ title: 'Registrations: filter', body: [`Filter in force: ${describeFilter(c.filter) || '(none)'}`], menu: [] });
    switch (choice) {
      case '1': return setFilter(c, 'number', await c.ui.prompt(current(), 'Number (1001, or 10* for a prefix; Enter = any): '));
      case '2': return setFilter(c, 'ip', await c.ui.prompt(current(), 'Source IP or range (203.0.113.0/24; Enter = any): '));
      case '3': return setFilter(c, 'account', await c.ui.prompt(current(), 'Account (Enter = any): '));
      case '4': return setFilter(c, 'status', await c.ui.prompt(current(), `Status (${BINDING_STATUSES.join('/')}; Enter = any): `));
      case '5': c.filter = {}; return 'Filters cleared.';
      case '6': {
        const number = await c.ui.prompt({
          title: 'Registrations: details',
          body: ['Every stored field of one number\'s bindings, nothing cut: contact, source,',
            'expiry, User-Agent, Call-ID, NAT keepalive.'],
          menu: [],
        }, 'Details of number (0 = cancel): ');
        if (number !== null && number !== '') await details(c, number);
        return;
      }
      case '7': return;
      default: return unknownChoice(choice);
    }
  });
}

/** One field of the filter from a prompt's answer (empty clears it); a bad value leaves the filter as it was. */
function setFilter(c: ScreenContext, field: 'number' | 'ip' | 'account' | 'status', value: string | null): string | void {
  if (value === null) return;
  const next = {
    number: c.filter.number, ip: c.filter.range?.text, account: c.filter.account, status: c.filter.status,
    [field]: value,
  };
  const f = makeFilter(next);
  if (isFilterProblem(f)) return `Not used: ${f.field} ${f.message}`;
  c.filter = f;
  return value === '' ? `${field} filter cleared.` : undefined;
}

/** Every stored field of one number's bindings. */
async function details(c: ScreenContext, number: string): Promise<void> {
  await c.ui.menu(() => {
    const nowMs = c.now();
    const bindings = bindingsOf(c.store, number);
    const body = bindings.length === 0 ? [`No registration for ${number}.`]
      : bindings.flatMap((b, i) => [...(i > 0 ? [''] : []), ...bindingDetails(b, nowMs)]);
    return { title: `Details: ${number}`, body, menu: menuLines(['Enter refresh', '0 back']) };
  }, unknownChoice);
}
