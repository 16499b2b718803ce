import { CommandError } from '../errors.js';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { dataDirOf, requireConfig } from '../context.js';
import { noPositionals } from './list.js';
import { StoreError, compactStore, readService, openStore, serviceRunning } from '../../store/index.js';

/**
 * `sipreg compact`: gives back the disk that pruned history left inside the store's file (LMDB reuses
 * freed pages but never shrinks the file). Only while nothing else has the store open: with the
 * service running it refuses and says to stop it first (store/compact.ts says why).
 */
export const compactCommand: Command = {
  name: 'compact',
  usage: '',
  summary: 'give the store file\'s free pages back to the disk (service stopped)',
  options: [DATA_DIR_OPTION],
  async run(ctx) {
    noPositionals(ctx.args);
    const config = requireConfig(ctx);
    const dataDir = dataDirOf(ctx, config);
    try {
      const c = await compactStore(dataDir, { whenSparse: false });
      ctx.stdout.write(c.compacted
        ? `compacted ${dataDir}: ${mib(c.beforeBytes)} -> ${mib(c.afterBytes)} (${c.reason}) in ${(c.ms / 1000).toFixed(1)} s\n`
        : `${dataDir}: not compacted: ${c.reason}\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      if (err.code === 'ERR_STORE_IN_USE') throw new CommandError('ERR_CLI_STORE', `${err.message}${whoHolds(dataDir)}; stop the service first ` +
        '(systemctl stop sipreg), then run sipreg compact again. The service also compacts the store itself when it starts with more than half of the file free.');
      throw new CommandError('ERR_CLI_STORE', err.message);
    }
  },
};

/** ' (the sipreg service)' when the store's heartbeat says the service runs. */
function whoHolds(dataDir: string): string {
  try {
    const store = openStore(dataDir);
    const rec = readService(store);
    void store.close();
    return rec !== null && serviceRunning(rec, Date.now()) ? ` (the sipreg service, pid ${rec.pid})` : '';
  } catch {
    return '';
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
