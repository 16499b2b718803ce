/** Console: 7 Trunks, the outbound registrations (ops/trunks.ts's views), and a re-register on request. */
import { requestTrunkReregister } from '../../ops/actions.js';
import { trunkDetails, trunksTable, trunkViews } from '../../ops/trunks.js';
import { menuLines, unknownChoice } from '../screen.js';
import type { ScreenContext } from './context.js';

/** 7 Trunks: the outbound registrations; re-register one now, or see one in full. */
export async function trunksScreen(c: ScreenContext): Promise<void> {
  await c.ui.menu(() => {
    const nowMs = c.now();
    c.store.root.resetReadTxn();
    const views = trunkViews(c.store, c.config());
    const t = trunksTable(views, nowMs);
    return {
      title: 'Trunks',
      head: views.length === 0 ? [] : [t[0]!],
      body: views.length === 0 ? ['(no trunks in the config)'] : t.slice(1),
      menu: menuLines(['1 re-register one now', '2 details of one', 'Enter refresh', '0 back']),
    };
  }, async (choice) => {
    if (choice !== '1' && choice !== '2') return unknownChoice(choice);
    const views = trunkViews(c.store, c.config());
    if (views.length === 0) return 'No trunks in the config.';
    const what = choice === '1' ? 're-register' : 'details';
    const name = await c.ui.prompt({ title: `Trunks: ${what}`, body: views.map((v, i) => `${i + 1}  ${v.name} (${v.state})`), menu: [] }, 'Trunk # or name (0 = cancel): ');
    if (name === null || name === '') return;
    const v = views.find((x, i) => x.name === name || String(i + 1) === name);
    if (v === undefined) return `No trunk ${name}.`;
    if (choice === '2') {
      await c.ui.menu(() => {
        c.store.root.resetReadTxn();
        const config = c.config();
        const now = trunkViews(c.store, config).find((x) => x.name === v.name);
        return { title: `Trunk: ${v.name}`, body: now === undefined ? [`${v.name} is no longer in the config.`] : trunkDetails(now, config, c.now()), menu: menuLines(['Enter refresh', '0 back']) };
      }, unknownChoice);
      return;
    }
    if (!v.enabled) return `${v.name} is disabled in the config.`;
    await requestTrunkReregister(c.store, v.name);
    return c.running() ? `Asked the service to re-register ${v.name} now.`
      : `Queued: the service is down; ${v.name} registers when it starts.`;
  });
}
