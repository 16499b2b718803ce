import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.js';
import { optFlag } from '../args.js';
import { openStoreOrFail, requireConfig } from '../context.js';
import { renderParamsListing, renderParamsMarkdown } from '../../config/index.js';
import { configInForce, type ConfigInForce } from '../../ops/config-follow.js';
import { formatDateTime } from '../../ops/format.js';
import { displayText } from '../../ops/sanitize.js';

/**
 * The SS_* values in force with default and range: those of the running service's config,
 * else of the file given (-c); --markdown prints README's table.
 */
export const paramsCommand: Command = {
  name: 'params',
  usage: '[--markdown]',
  summary: 'SS_* parameters in force, with default and range',
  options: [{ name: 'markdown', help: 'the parameter table as markdown (what README shows), no config needed' }],
  async run(ctx) {
    if (optFlag(ctx.args, 'markdown')) {
      ctx.stdout.write(renderParamsMarkdown());
      return 0;
    }
    const own = requireConfig(ctx);
    let cif: ConfigInForce = { config: own, record: null, problem: null };
    // Only a store that exists: looking must not create one.
    if (existsSync(join(own.dataDir, 'data.mdb'))) {
      const store = openStoreOrFail(own.dataDir);
      try {
        cif = configInForce(store, own, Date.now());
      } finally {
        await store.close();
      }
    }
    if (cif.problem !== null) ctx.stderr.write(`sipreg: ${displayText(cif.problem)}\n`);
    const r = cif.record;
    ctx.stdout.write(`config: ${displayText(cif.config.file)}${r === null ? '' : ` (in force in the running service: generation ${r.generation}, loaded ${formatDateTime(r.loadedAtMs)})`}\n`);
    ctx.stdout.write(renderParamsListing(cif.config.params, { descriptions: true }));
    return 0;
  },
};
