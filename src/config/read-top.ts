/**
 * The small top-level keys: the static `acl:` lists, `data_dir`, `log_level`, `metrics_textfile`. Paths
 * are resolved against the config file's directory, not the working directory.
 */
import { resolve } from 'node:path';
import { configDefaults } from './defaults.js';
import { parseCidr, quote } from './net.js';
import { parsedList, requiredText, text } from './scalars.js';
import type { Cidr, Config, LogLevel } from './types.js';
import type { ConfigDocument, Entry } from './yaml.js';

const aclKeys = ['allow', 'deny'] as const;
const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function readAcl(doc: ConfigDocument, entry: Entry | undefined): Config['acl'] {
  const map = entry === undefined ? null : doc.mapping(entry.node, entry.path, aclKeys);
  const list = (key: string): Cidr[] => {
    const e = map?.get(key);
    return e === undefined ? [] : parsedList(doc, e, 'ERR_CONFIG_CIDR', parseCidr) ?? [];
  };
  return { allow: list('allow'), deny: list('deny') };
}

export function readDataDir(doc: ConfigDocument, entry: Entry | undefined, baseDir: string): string {
  if (entry !== undefined) {
    const dir = requiredText(doc, entry, 'must be a directory path, like /var/lib/sipreg');
    if (dir !== undefined) return resolve(baseDir, dir);
  }
  return resolve(baseDir, configDefaults.dataDir);
}

export function readLogLevel(doc: ConfigDocument, entry: Entry | undefined): LogLevel {
  if (entry === undefined) return configDefaults.logLevel;
  const value = text(doc, entry);
  if (value === undefined) return configDefaults.logLevel;
  const level = logLevels.find((l) => l === value.trim().toLowerCase());
  if (level === undefined) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_OPTION', `must be one of ${logLevels.join(', ')}. Received ${quote(value)}`);
    return configDefaults.logLevel;
  }
  return level;
}

/** The Prometheus textfile's path, or null (off) when not given or empty. */
export function readMetricsTextfile(doc: ConfigDocument, entry: Entry | undefined, baseDir: string): string | null {
  if (!doc.given(entry)) return null;
  const value = text(doc, entry);
  if (value === undefined || value === '') return null;
  // node_exporter's textfile collector reads only files named *.prom.
  if (!value.endsWith('.prom')) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_OPTION', `must end in .prom (node_exporter's textfile collector reads only *.prom). Received ${quote(value)}`);
    return null;
  }
  return resolve(baseDir, value);
}
