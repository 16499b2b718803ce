/** Console: 2 Force unregister, through the same action as `sipreg unregister` (ops/actions.ts). */
import { operatorLimits } from '../../limits.js';
import { bindingsOf } from '../../store/index.js';
import { forceUnregister, type HoldTarget } from '../../ops/actions.js';
import { formatDuration, table, wrap } from '../../ops/format.js';
import { lockoutTarget } from '../../ops/history.js';
import type { Screen } from '../screen.js';
import type { ScreenContext } from './context.js';

const HOLD_S_MAX = operatorLimits.holdSMax;

/** 2 Force unregister: one number's bindings (or one contact) removed, optionally with a hold. */
export async function forceUnregisterScreen(c: ScreenContext): Promise<string | void> {
  const base: Screen = {
    title: 'Force unregister',
    body: ['Removes a binding now; the phone learns it at its next REGISTER (no NOTIFY).',
      'With a hold, the number (or its source address) is refused for that long,',
      'so a phone with a stolen password does not come straight back.'],
    menu: [],
  };
  const number = await c.ui.prompt(base, 'Number (0 = cancel): ');
  if (number === null || number === '') return;
  const nowMs = c.now();
  const bindings = bindingsOf(c.store, number);
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
    const which = await c.ui.prompt(listing, 'Contact # to remove (Enter = all of them, 0 = cancel): ');
    if (which === null) return 'Cancelled.';
    if (which === '') break;
    const b = bindings[Number(which) - 1];
    if (/^\d+$/.test(which) && b !== undefined) { contact = b.contactKey; break; }
  }
  let holdS = 0;
  let holdTarget: HoldTarget = 'number';
  for (;;) {
    const hold = await c.ui.prompt(listing, `Hold for how many seconds (1..${HOLD_S_MAX}; Enter = no hold): `);
    if (hold === null) return 'Cancelled.';
    if (hold === '') break;
    if (/^\d+$/.test(hold) && Number(hold) >= 1 && Number(hold) <= HOLD_S_MAX) { holdS = Number(hold); break; }
  }
  if (holdS > 0) {
    const t = await c.ui.prompt(listing, 'Refuse 1 the number, 2 its source address (Enter = 1): ');
    if (t === null) return 'Cancelled.';
    holdTarget = t === '2' ? 'address' : 'number';
  }
  const what = contact === undefined ? `all ${bindings.length} binding(s) of ${number}` : `${number} contact ${contact}`;
  const holdText = holdS === 0 ? '' : `, then refuse the ${holdTarget === 'number' ? 'number' : 'source address'} for ${holdS}s`;
  const confirm = await c.ui.prompt({ ...listing, body: ['', ...wrap(`Remove ${what}${holdText}?`, 80)] }, 'Type 1 to confirm, 0 to cancel: ');
  if (confirm !== '1') return 'Cancelled: nothing removed.';
  const result = await forceUnregister(c.store, number, { contact, holdS, holdTarget, by: 'console' });
  if (result.removed.length === 0) return `Nothing removed: ${number} changed meanwhile.`;
  return `Removed ${result.removed.length} binding(s) of ${number}${result.hold.length > 0 ? `; held ${result.hold.map(lockoutTarget).join(', ')} ${holdS}s` : ''}.`;
}
