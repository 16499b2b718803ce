/**
 * The node_exporter textfile (https://github.com/prometheus/node_exporter#textfile-collector): the
 * exposition text format, written to a temporary file in the same directory and renamed over the
 * target so the collector never reads half a file.
 */
import { closeSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import type { Counters } from './counters.js';

export interface Gauges {
  readonly up: boolean;
  readonly startTimeS: number;
  readonly bindings: number;
  readonly bindingsNat: number;
  readonly lockoutsActive: number;
  readonly trunksRegistered: number;
  readonly trunksConfigured: number;
}

/** `datagramsReceived` → `datagrams_received`. */
export function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

const COUNTER_HELP: Partial<Record<keyof Counters, string>> = {
  registersReceived: 'REGISTER requests received.',
  registersAccepted: 'REGISTER requests answered 200 OK.',
  challengesSent: 'REGISTER requests answered 401 with a digest challenge.',
  authFailures: 'REGISTER requests with wrong credentials.',
  registersRejected: 'REGISTER requests answered with another final non-2xx.',
  processingUsTotal: 'Sum of REGISTER processing times (receive to response sent), microseconds.',
  processed: 'REGISTER requests whose processing time is in processing_us_total.',
};

export function renderTextfile(c: Counters, g: Gauges): string {
  const out: string[] = [];
  const metric = (name: string, type: 'gauge' | 'counter', help: string, value: number): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${Number.isFinite(value) ? value : 0}`);
  };
  metric('sipreg_up', 'gauge', '1 while the sipreg service runs.', g.up ? 1 : 0);
  metric('sipreg_start_time_seconds', 'gauge', 'Start time of the service, Unix seconds.', g.startTimeS);
  metric('sipreg_bindings', 'gauge', 'Contact bindings currently stored.', g.bindings);
  metric('sipreg_bindings_nat', 'gauge', 'Bindings of phones behind NAT (at the last per-minute sample).', g.bindingsNat);
  metric('sipreg_lockouts_active', 'gauge', 'Suspended numbers and addresses.', g.lockoutsActive);
  metric('sipreg_trunks_registered', 'gauge', 'Trunks registered upstream.', g.trunksRegistered);
  metric('sipreg_trunks_configured', 'gauge', 'Trunks in the config.', g.trunksConfigured);
  for (const [key, value] of Object.entries(c) as [keyof Counters, number][]) {
    const base = snakeCase(key);
    const name = `sipreg_${base.endsWith('_total') ? base : `${base}_total`}`;
    metric(name, 'counter', COUNTER_HELP[key] ?? `Counter ${key} since the service started.`, value);
  }
  return `${out.join('\n')}\n`;
}

/**
 * Writes atomically: temp file beside the target, then rename (atomic within one file system). The
 * textfile directory is often shared (node_exporter's, writable by several services), so the temp name
 * is unguessable and created with O_EXCL: a file or symlink planted there is never written through.
 * It does not end in `.prom`, so the collector skips it; rename replaces a symlink at `path` itself.
 */
export function writeTextfile(path: string, text: string): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(9).toString('base64url')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o644);
  try {
    try { writeSync(fd, text); } finally { closeSync(fd); }
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw err;
  }
}
