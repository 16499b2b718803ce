import { UsageError } from '../errors.js';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag, optString } from '../args.js';
import { withStore } from '../context.js';
import {
  BINDING_STATUSES, bindingJson, bindingsCsv, bindingsTable, describeFilter, findBindings, isFilterProblem, makeFilter,
  type BindingFilter,
} from '../../ops/bindings.js';
import type { ParsedArgs } from '../args.js';
import { displayText, jsonText } from '../../ops/sanitize.js';

export function noPositionals(args: ParsedArgs): void {
  if (args.positionals.length > 0) throw new UsageError('ERR_CLI_ARGUMENT', `unexpected argument '${args.positionals[0]}'`);
}

/** The filter options of `list` (the console builds the same filter from its prompts). */
export function filterFromArgs(args: ParsedArgs): BindingFilter {
  const f = makeFilter({
    number: optString(args, 'number'), ip: optString(args, 'ip'), account: optString(args, 'account'), status: optString(args, 'status'),
  });
  if (isFilterProblem(f)) throw new UsageError('ERR_CLI_OPTION_VALUE', `option '--${f.field}' ${f.message}`);
  return f;
}

export const listCommand: Command = {
  name: 'list',
  usage: '[--json|--csv] [--number N] [--ip IP|CIDR] [--account NAME] [--status registered|expiring|expired]',
  summary: 'current registrations, filtered',
  options: [
    { name: 'json', help: 'a JSON array, one object per binding' },
    { name: 'csv', help: 'CSV with a header row, the same fields as --json' },
    { name: 'number', value: 'N', help: 'this number only (N* : numbers starting with N)' },
    { name: 'ip', value: 'IP|CIDR', help: 'bindings whose source address is in this address or range' },
    { name: 'account', value: 'NAME', help: 'bindings of this account (any case)' },
    { name: 'status', value: 'STATUS', help: 'registered, expiring or expired', choices: BINDING_STATUSES },
    DATA_DIR_OPTION,
  ],
  async run(ctx) {
    noPositionals(ctx.args);
    const json = optFlag(ctx.args, 'json');
    const csv = optFlag(ctx.args, 'csv');
    if (json && csv) throw new UsageError('ERR_CLI_OPTION_CONFLICT', '--json and --csv exclude each other');
    const filter = filterFromArgs(ctx.args);
    return withStore(ctx, (store) => {
      const nowMs = Date.now();
      const bindings = findBindings(store, filter, nowMs);
      if (json) ctx.stdout.write(`${jsonText(bindings.map((b) => bindingJson(b, nowMs)))}\n`);
      else if (csv) ctx.stdout.write(bindingsCsv(bindings, nowMs));
      else {
        const f = describeFilter(filter);
        if (bindings.length > 0) ctx.stdout.write(`${bindingsTable(bindings, nowMs).join('\n')}\n`);
        ctx.stdout.write(`${bindings.length} binding${bindings.length === 1 ? '' : 's'}${f === '' ? '' : ` (${displayText(f)})`}\n`);
      }
      return 0;
    });
  },
};
