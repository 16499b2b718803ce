/** Console: 6 Lockouts, the active suspensions; one lifted through ops/actions.ts (`sipreg unlock` lifts by target). */
import { activeLockouts } from '../../store/index.js';
import { liftLockoutKey } from '../../ops/actions.js';
import { lockoutDetails, lockoutsTable, lockoutTarget } from '../../ops/history.js';
import { menuLines, unknownChoice } from '../screen.js';
import type { ScreenContext } from './context.js';

/** 6 Lockouts: the active suspensions; lift one, or see one in full. */
export async function lockoutsScreen(c: ScreenContext): Promise<void> {
  await c.ui.menu(() => {
    const nowMs = c.now();
    const ls = activeLockouts(c.store, nowMs);
    const t = lockoutsTable(ls, nowMs, 80, true);
    return {
      title: 'Lockouts',
      head: [`${ls.length} active suspension(s)`, ...(ls.length === 0 ? [] : [t[0]!])],
      body: ls.length === 0 ? ['(none)'] : t.slice(1),
      menu: menuLines(['1 lift one', '2 details of one', 'Enter refresh', '0 back']),
    };
  }, async (choice) => {
    if (choice === '2') return lockoutDetailsFlow(c);
    if (choice !== '1') return unknownChoice(choice);
    const ls = activeLockouts(c.store, c.now());
    if (ls.length === 0) return 'Nothing to lift.';
    const which = await c.ui.prompt({ title: 'Lockouts: lift', body: lockoutsTable(ls, c.now(), 80, true), menu: [] }, '# to lift (0 = cancel): ');
    if (which === null || which === '') return;
    const l = /^\d+$/.test(which) ? ls[Number(which) - 1] : undefined;
    if (l === undefined) return `No lockout #${which}.`;
    const lifted = await liftLockoutKey(c.store, l.key, 'console');
    return lifted === null ? `${lockoutTarget(l)} had already ended.` : `Lifted: ${lockoutTarget(l)} may register again.`;
  });
}

/** Details of one suspension, chosen by its row. */
async function lockoutDetailsFlow(c: ScreenContext): Promise<string | void> {
  const ls = activeLockouts(c.store, c.now());
  if (ls.length === 0) return 'No active suspension.';
  const which = await c.ui.prompt({ title: 'Lockouts: details', body: lockoutsTable(ls, c.now(), 80, true), menu: [] }, '# (0 = cancel): ');
  if (which === null || which === '') return;
  const l = /^\d+$/.test(which) ? ls[Number(which) - 1] : undefined;
  if (l === undefined) return `No lockout #${which}.`;
  await c.ui.menu(() => ({ title: `Lockout: ${lockoutTarget(l)}`, body: lockoutDetails(l, c.now()), menu: menuLines(['Enter refresh', '0 back']) }), unknownChoice);
}
