import type { Command } from '../command.js';
import { DATA_DIR_OPTION } from '../command.js';
import { optFlag } from '../args.js';
import { withStore } from '../context.js';
import { noPositionals } from './list.js';
import { analyse, trend, type Analysis, type Rates, type TrendWindow } from '../../stats/analysis.js';
import { readCountersSnapshot } from '../../stats/sampler.js';
import { alertLines, formatBytes, readStatus, statusLines, type Status } from '../../ops/status.js';
import { configInForce } from '../../ops/config-follow.js';
import { storeLimits, type StoreReport } from '../../store/index.js';
import { columnChart } from '../../ops/chart.js';
import { ratesLines } from '../../ops/rates.js';
import { countersLines } from '../../ops/counters.js';
import { requestFlush } from '../../ops/actions.js';
import { formatClock, formatDateTime, isoOrNull, wrap } from '../../ops/format.js';
import { snakeCase } from '../../stats/prometheus.js';
import { jsonText } from '../../ops/sanitize.js';

function ratesJson(r: Rates): Record<string, number | null> {
  return {
    minutes: r.minutes, registers_per_s: r.registersPerS, accepted_per_s: r.acceptedPerS,
    auth_failures_per_s: r.authFailuresPerS, rejected_per_s: r.rejectedPerS,
    auth_failure_ratio: r.authFailureRatio, avg_processing_ms: r.avgProcessingMs,
  };
}

const WINDOWS: readonly TrendWindow[] = ['hour', 'day', 'week'];

export function statsJson(s: Status, a: Analysis, snapshot: ReturnType<typeof readCountersSnapshot>): unknown {
  return {
    at: new Date(a.nowMs).toISOString(),
    service: {
      running: s.running, host: s.host, pid: s.service?.pid ?? null, version: s.service?.version ?? null,
      started_at: isoOrNull(s.service?.startedAtMs ?? null), heartbeat_at: isoOrNull(s.service?.heartbeatAtMs || null),
      config_file: s.service?.configFile ?? null,
    },
    registered: a.registered,
    nat: a.nat,
    lockouts_active: s.lockouts,
    trunks_registered: s.trunksUp,
    trunks_total: s.trunksTotal,
    // The most pressing active alert (null: none), then all of them (stats/active-alerts.ts).
    alert: s.alerts.length === 0 ? null : { at: new Date(s.alerts[0]!.sinceMs).toISOString(), kind: s.alerts[0]!.kind, detail: s.alerts[0]!.detail },
    alerts: s.alerts.map((x) => ({ kind: x.kind, subject: x.subject, since: new Date(x.sinceMs).toISOString(), detail: x.detail })),
    config: {
      file: s.config?.file ?? null, generation: s.config?.generation ?? null, sha256: s.config?.sha256 ?? null,
      loaded_at: isoOrNull(s.config?.loadedAtMs ?? null), problem: s.configProblem,
    },
    store: s.store === null ? null : storeJson(s.store),
    counters_at: isoOrNull(snapshot?.atMs ?? null),
    counters: snapshot === null ? null
      : Object.fromEntries(Object.entries(snapshot.values).map(([k, v]) => [snakeCase(k), v])),
    rates: { last_5_min: ratesJson(a.last5min), last_hour: ratesJson(a.lastHour), last_day: ratesJson(a.lastDay) },
    trend: Object.fromEntries(WINDOWS.map((w) => [w, trend(a.samples, a.nowMs, w)
      .filter((p) => p.registered !== null)
      .map((p) => ({ at: new Date(p.atMs).toISOString(), registered: p.registered, min: p.min, max: p.max }))])),
    device_types: a.deviceTypes.map((d) => ({ type: d.name, count: d.count })),
    areas: a.areas.map((x) => ({ area: x.name, configured: x.configured, count: x.count })),
  };
}

/** The store's room: pages, history, budget, file system, the service's prune figures and memory. */
export function storeJson(r: StoreReport): unknown {
  const f = r.figures;
  const svc = r.service;
  return {
    file_bytes: f.fileBytes, page_size: f.pageSize, file_pages: f.filePages, used_pages: f.usedPages, free_pages: f.freePages,
    used_bytes: f.usedPages * f.pageSize, free_bytes: f.freePages * f.pageSize,
    history_rows: f.historyRows, history_bytes: f.historyPages * f.pageSize,
    budget_bytes: r.budgetBytes, budget_auto: r.budgetAuto, reserve_bytes: r.reserveBytes,
    file_system_bytes: r.fileSystem.totalBytes, file_system_free_bytes: r.fileSystem.freeBytes,
    full: r.full, full_since: isoOrNull(r.fullSinceMs),
    history_rows_not_written: svc?.historyRowsNotWritten ?? null,
    prune: svc === null ? null : {
      batches: svc.pruneBatches, rows: svc.prunedRows, bytes: svc.prunedBytes,
      batch_ms_last: svc.pruneBatchMsLast, batch_ms_max: svc.pruneBatchMsMax,
      batch_ms_avg: svc.pruneBatches === 0 ? null : Math.round((svc.pruneBatchMsTotal / svc.pruneBatches) * 1000) / 1000,
    },
    service_memory: svc === null ? null : {
      rss_bytes: svc.rssBytes, heap_used_bytes: svc.heapUsedBytes, heap_total_bytes: svc.heapTotalBytes, external_bytes: svc.externalBytes,
    },
    box_memory: svc?.box === undefined ? null : {
      total_bytes: svc.box.totalBytes, available_bytes: svc.box.availableBytes,
      pressure_some_avg10: svc.box.pressureSome10, pressure_some_avg60: svc.box.pressureSome60,
    },
  };
}

/** The store section of `sipreg stats`. */
export function storeLines(r: StoreReport | null): string[] {
  if (r === null) return ['Store: figures not readable.'];
  const f = r.figures;
  const n = (x: number): string => x.toLocaleString('en-US');
  const b = (x: number): string => formatBytes(x, true);
  const out = [
    'Store:',
    `  file          ${b(f.fileBytes)}: ${n(f.usedPages)} pages used (${b(f.usedPages * f.pageSize)}), ${n(f.freePages)} free (${b(f.freePages * f.pageSize)})`,
    `  page size     ${f.pageSize} B, ${n(f.filePages)} pages in the file`,
    `  budget        ${b(r.budgetBytes)}${r.budgetAuto ? ' (auto: half the file system, at most 1 GiB)' : ' (SS_STORE_MAX_MB)'}`,
    `  reserve       ${b(r.reserveBytes)} kept for binding changes`,
    `  history       ${n(f.historyRows)} rows in ${n(f.historyPages)} pages (${b(f.historyPages * f.pageSize)})`,
    `  file system   ${b(r.fileSystem.freeBytes)} free of ${b(r.fileSystem.totalBytes)}`,
  ];
  const svc = r.service;
  if (svc !== null) {
    out.push(`  pruned        ${n(svc.prunedRows)} rows in ${n(svc.pruneBatches)} transactions` +
      (svc.pruneBatches === 0 ? '' : `, ${(svc.pruneBatchMsTotal / svc.pruneBatches).toFixed(3)} ms each (max ${svc.pruneBatchMsMax.toFixed(3)})`));
    out.push(`  service RSS   ${b(svc.rssBytes)}: counts the store pages it has read`, `  service heap  ${b(svc.heapUsedBytes)} used of ${b(svc.heapTotalBytes)}`);
    if (svc.box !== undefined) {
      const psi = svc.box.pressureSome60 === null ? '' : `; waited for memory ${svc.box.pressureSome60.toFixed(1)} % of the last minute`;
      out.push(`  box memory    ${b(svc.box.availableBytes)} available of ${b(svc.box.totalBytes)}${psi}`);
    }
  }
  if (r.full) out.push(`  ALERT         store full: history paused${svc === null ? '' : `, ${n(svc.historyRowsNotWritten)} rows not written`}`);
  if (f.freePages > f.filePages * storeLimits.compactFreeShare && f.fileBytes >= storeLimits.compactFileMinBytes) {
    out.push('  compact       over half the file is free: given back at the next start,', '                or stop the service and run sipreg compact');
  }
  return out;
}

export const statsCommand: Command = {
  name: 'stats',
  usage: '[--json]',
  summary: 'counters and the registration-count trend',
  options: [{ name: 'json', help: 'one JSON object' }, DATA_DIR_OPTION],
  async run(ctx) {
    noPositionals(ctx.args);
    return withStore(ctx, async (store, config) => {
      // The counters, the service's memory and the last refreshes reach the store with its flush: ask
      // for one, so what is printed is the running service's now (the store as it is if none runs).
      await requestFlush(store);
      const nowMs = Date.now();
      const cif = configInForce(store, config, nowMs);
      const status = readStatus(store, cif, nowMs);
      const a = analyse(store, cif.config, nowMs);
      const snapshot = readCountersSnapshot(store);
      if (optFlag(ctx.args, 'json')) {
        ctx.stdout.write(`${jsonText(statsJson(status, a, snapshot))}\n`);
        return 0;
      }
      const hour = trend(a.samples, nowMs, 'hour');
      const out = [
        ...statusLines(status),
        '',
        ...(status.config === null ? [] : wrap(`Config in force: ${status.config.file}, generation ${status.config.generation}, loaded ${formatDateTime(status.config.loadedAtMs)}`, 80, '  ')),
        ...(status.configProblem === null ? [] : wrap(status.configProblem, 80, '  ')),
        `Alerts (${status.alerts.length}):`,
        ...alertLines(status.alerts, 78).map((l) => `  ${l}`),
        '',
        `Registrations, last hour (per minute, now ${a.registered}):`,
        ...columnChart(hour.map((p) => p.registered), 6, formatClock(hour[0]!.atMs), formatClock(nowMs)),
        '',
        ...ratesLines(a),
        '',
        ...storeLines(status.store),
      ];
      for (const w of ['day', 'week'] as const) {
        const pts = trend(a.samples, nowMs, w).flatMap((p) => (p.registered === null ? [] : [p]));
        if (pts.length > 0) {
          out.push(`last ${w}: min ${Math.min(...pts.map((p) => p.min!))}, max ${Math.max(...pts.map((p) => p.max!))}, ` +
            `first ${pts[0]!.registered} at ${formatDateTime(pts[0]!.atMs)}`);
        }
      }
      if (snapshot !== null) out.push('', ...countersLines(snapshot));
      ctx.stdout.write(`${out.join('\n')}\n`);
      return 0;
    });
  },
};
