import { UsageError } from '../errors.js';
import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag, optInt, optString } from '../args.js';
import { withStore } from '../context.js';
import { noPositionals } from './list.js';
import { EVENT_TYPES, eventJson, eventLines, isEventType } from '../../ops/history.js';
import { queryEvents, type EventQuery } from '../../store/index.js';
import { jsonText } from '../../ops/sanitize.js';
import { requestFlush } from '../../ops/actions.js';

export const eventsCommand: Command = {
  name: 'events',
  usage: '[--json] [--type TYPE] [--number N] [--since TIME] [--limit N]',
  summary: 'registration history, oldest first',
  options: [
    { name: 'json', help: 'a JSON array, oldest first' },
    { name: 'type', value: 'TYPE', help: 'only this type (or several, comma-separated)' },
    { name: 'number', value: 'N', help: 'only events of this number' },
    { name: 'since', value: 'TIME', help: 'only events at or after TIME: 15m, 2h, 1d ago; today, yesterday (from midnight); or ISO 8601 (2026-05-01T12:00:00Z)' },
    { name: 'limit', value: 'N', help: 'the newest N of the matching events' },
    DATA_DIR_OPTION,
  ],
  async run(ctx) {
    noPositionals(ctx.args);
    const q: { -readonly [K in keyof EventQuery]: EventQuery[K] } = {};
    const type = optString(ctx.args, 'type');
    if (type !== undefined) {
      const types = type.split(',').map((s) => s.trim());
      const bad = types.find((x) => !isEventType(x));
      if (bad !== undefined) throw new UsageError('ERR_CLI_OPTION_VALUE', `option '--type' must be one of ${EVENT_TYPES.join(', ')}. Received '${bad}'`);
      q.type = types.filter(isEventType);
    }
    const number = optString(ctx.args, 'number');
    if (number !== undefined) q.number = number;
    const since = optString(ctx.args, 'since');
    if (since !== undefined) {
      const ms = parseSince(since, Date.now());
      if (ms === null) throw new UsageError('ERR_CLI_OPTION_VALUE', `option '--since' must be like 15m, 2h, 1d, today, yesterday or 2026-05-01T12:00:00Z. Received '${since}'`);
      q.sinceMs = ms;
    }
    const limit = optInt(ctx.args, 'limit', 1, 100_000_000);
    if (limit !== undefined) q.limit = limit;
    return withStore(ctx, async (store) => {
      await requestFlush(store);
      const events = queryEvents(store, q);
      if (optFlag(ctx.args, 'json')) ctx.stdout.write(`${jsonText(events.map(eventJson))}\n`);
      else if (events.length === 0) ctx.stdout.write('no events\n');
      else ctx.stdout.write(`${events.flatMap((e) => eventLines(e)).join('\n')}\n`);
      return 0;
    });
  },
};

const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** `--since`: an age (`90s`, `15m`, `2h`, `1d`, `1w`), `today` or `yesterday` (local midnight), or an
 *  ISO 8601 time; null when it is none of them. */
export function parseSince(text: string, nowMs: number): number | null {
  const age = /^(\d{1,9})([smhdw])$/.exec(text);
  if (age !== null) return nowMs - Number(age[1]) * UNIT_MS[age[2]!]!;
  if (text === 'today' || text === 'yesterday') {
    const midnight = new Date(nowMs);
    midnight.setHours(0, 0, 0, 0);
    if (text === 'yesterday') midnight.setDate(midnight.getDate() - 1);
    return midnight.getTime();
  }
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text) ? Date.parse(text) : NaN;
  return Number.isNaN(ms) ? null : ms;
}
