/**
 * Console: Factory reset: ops/factory-reset.ts, confirmed by typing the words in full. Only
 * with the service stopped; the console closes its own store for it and ends.
 */
import { existsSync } from 'node:fs';
import { BackupError } from '../../ops/backup.js';
import { FACTORY_CONFIG, FACTORY_RESET_CONFIRMATION, factoryReset } from '../../ops/factory-reset.js';
import { readService, serviceRunning } from '../../store/index.js';
import type { ScreenContext } from './context.js';

export async function factoryResetScreen(c: ScreenContext): Promise<string | void> {
  const configFile = c.config().file; // read before the store closes
  const factory = existsSync(FACTORY_CONFIG) ? FACTORY_CONFIG : null;
  const screen = {
    title: 'Factory reset',
    body: ['Erases every binding, the history, lockouts and trunk state (data_dir emptied),',
      factory === null ? `and (no factory config at ${FACTORY_CONFIG}) leaves the config as it is.`
        : 'puts the factory config back (no accounts, no trunks) and forgets kept versions;',
      ...(factory === null ? [] : ['the next boot makes new SSH host keys.']),
      'The service must be stopped; the console ends afterwards.'],
    menu: [],
  };
  const typed = await c.ui.ask(screen, `Type "${FACTORY_RESET_CONFIRMATION}" to erase (anything else cancels): `);
  if (typed !== FACTORY_RESET_CONFIRMATION) return `Nothing erased: type "${FACTORY_RESET_CONFIRMATION}" in full to reset.`;
  c.store.root.resetReadTxn();
  if (serviceRunning(readService(c.store), c.now())) return 'Nothing erased: the service is running. Stop it first (systemctl stop sipreg).';
  const dataDir = c.store.dataDir;
  await c.store.close();
  let text: string;
  try {
    const r = factoryReset(dataDir, configFile, factory, c.now());
    text = `Factory reset done: ${dataDir} emptied` + (r.factoryConfig === null ? `, ${configFile} left as it is.` : `, ${configFile} is the factory config.`);
  } catch (err) {
    text = `Not reset: ${err instanceof BackupError || err instanceof Error ? err.message : String(err)}.`;
  }
  return c.leave(`${text} Start the service (systemctl start sipreg) or reboot. The console ends here.`);
}
