/** Console: 3 Why, one number's standing and the registrar's decisions on its REGISTERs, newest first. */
import { activeLockouts, bindingsOf, queryEvents } from '../../store/index.js';
import { cut, formatDuration, wrap } from '../../ops/format.js';
import { DECISION_TYPES, lockoutTarget } from '../../ops/history.js';
import { lockoutWords } from '../../ops/words.js';
import { accountsInForce } from '../../ops/config-follow.js';
import { menuLines, unknownChoice } from '../screen.js';
import { eventBlocks } from './event-log.js';
import type { ScreenContext } from './context.js';

/** 3 Why: asks for a number, then shows why it does or does not register. */
export async function whyScreen(c: ScreenContext): Promise<void> {
  const number = await c.ui.prompt({
    title: 'Why',
    body: ['The REGISTERs seen from one number and what the registrar decided for each,',
      'newest first, with the rule that fired.'],
    menu: [],
  }, 'Number (0 = cancel): ');
  if (number === null || number === '') return;
  await c.ui.menu(() => {
    const why = whyBody(c, number);
    return { title: `Why: ${number}`, ...why, paging: 'time', menu: menuLines(['Enter refresh', '0 back']) };
  }, unknownChoice, undefined, c.historyNow);
}

/** The Why screen's body: the number's standing, then its decisions newest first, one block each. */
function whyBody(c: ScreenContext, number: string): { body: string[]; blocks: number[] } {
  const nowMs = c.now();
  const out: string[] = [];
  const cif = c.inForce();
  const account = accountsInForce(cif).find((a) => a.number === number);
  const which = cif.record === null ? '' : ` (generation ${cif.record.generation}, in force)`;
  if (cif.problem !== null) {
    out.push(...wrap(`Account check skipped: ${cif.problem}.`, 80));
  } else {
    out.push(...wrap(account === undefined
      ? `${number} is NOT in the config's accounts${which}: every REGISTER from it fails authentication.`
      : `${number}: account ${account.account || '-'}, auth ${account.authMode}` +
        `${account.allow.length > 0 ? `, allowed from ${account.allow.map((a) => a.cidr.text).join(' ')}` : ''}`, 80, '  '));
  }
  const bindings = bindingsOf(c.store, number);
  out.push(bindings.length === 0 ? 'Not registered now.'
    : `Registered now: ${bindings.map((b) => `${b.source} (${formatDuration((b.expiresAtMs - nowMs) / 1000)} left)`).join(', ')}`);
  const locks = activeLockouts(c.store, nowMs).filter((l) => l.number === number || bindings.some((b) => b.sourceAddress === l.address && l.kind === 'address'));
  for (const l of locks) out.push(...wrap(`SUSPENDED: ${lockoutTarget(l)} for ${formatDuration((l.untilMs - nowMs) / 1000)} more (${lockoutWords(l)})`, 80, '  '));
  const events = queryEvents(c.store, { number, type: DECISION_TYPES, newestFirst: true, limit: 50 });
  out.push('');
  if (events.length === 0) {
    out.push(...wrap('No REGISTER from this number has been recorded. Check the phone\'s registrar address and port, ' +
      'the network path to this appliance, and the phone\'s user name.', 80));
  }
  const decisions = eventBlocks(events);
  return { body: [...out, ...decisions.body].map((l) => cut(l, 80)), blocks: [0, ...decisions.blocks.map((b) => b + out.length)] };
}
