import type { Command } from '../command.js';
import { optFlag } from '../args.js';
import { requireConfig } from '../context.js';
import { renderParamsListing, renderParamsMarkdown } from '../../config/index.js';

/** The SS_* values in force (from -c) with default and range; --markdown prints README's table. */
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
    const config = requireConfig(ctx);
    ctx.stdout.write(`config: ${config.file}\n`);
    ctx.stdout.write(renderParamsListing(config.params, { descriptions: true }));
    return 0;
  },
};
