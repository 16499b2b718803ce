import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag, optInt, optString, UsageError } from '../args.js';
import { withStore } from '../context.js';
import { noPositionals } from './list.js';
import { EVENT_TYPES, eventJson, eventLines, isEventType } from '../../console/history.js';
import { queryEvents, type EventQuery } from '../../store/index.js';
import { jsonText } from '../../ops/sanitize.js';

export const eventsCommand: Command = {
  name: 'events',
  usage: '[--json] [--type TYPE] [--number N] [--since ISO8601] [--limit N]',
  summary: 'registration history, oldest first',
  options: [
    { name: 'json', help: 'a JSON array, oldest first' },
    { name: 'type', value: 'TYPE', help: 'only this type (or several, comma-separated)' },
    { name: 'number', value: 'N', help: 'only events of this number' },
    { name: 'since', value: 'ISO8601', help: 'only events at or after this time (2026-05-01T12:00:00Z)' },
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
      if (bad !== undefined) throw new UsageError(`option '--type' must be one of ${EVENT_TYPES.join(', ')}. Received '${bad}'`);
      q.type = types.filter(isEventType);
    }
    const number = optString(ctx.args, 'number');
    if (number !== undefined) q.number = number;
    const since = optString(ctx.args, 'since');
    if (since !== undefined) {
      const ms = /^\d{4}-\d{2}-\d{2}/.test(since) ? Date.parse(since) : NaN;
      if (Number.isNaN(ms)) throw new UsageError(`option '--since' must be an ISO 8601 time like 2026-05-01T12:00:00Z. Received '${since}'`);
      q.sinceMs = ms;
    }
    const limit = optInt(ctx.args, 'limit', 1, 100_000_000);
    if (limit !== undefined) q.limit = limit;
    return withStore(ctx, (store) => {
      const events = queryEvents(store, q);
      if (optFlag(ctx.args, 'json')) ctx.stdout.write(`${jsonText(events.map(eventJson))}\n`);
      else if (events.length === 0) ctx.stdout.write('no events\n');
      else ctx.stdout.write(`${events.flatMap((e) => eventLines(e)).join('\n')}\n`);
      return 0;
    });
  },
};
