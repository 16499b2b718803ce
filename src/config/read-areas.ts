/**
 * The `areas:` block: named groups of address prefixes, by which the analysis (console, `sipreg stats`)
 * counts where phones register from.
 */
import { parseCidr } from './net.js';
import { firstOf, itemName, parsedList } from './scalars.js';
import type { Area, Cidr } from './types.js';
import type { ConfigDocument, Entry } from './yaml.js';

const areaKeys = ['name', 'prefixes'] as const;

export function readAreas(doc: ConfigDocument, entry: Entry | undefined): Area[] {
  if (entry === undefined) return [];
  const items = doc.sequence(entry);
  if (items === null) return [];
  const out: Area[] = [];
  const names = new Map<string, Entry>();
  for (const item of items) {
    const map = doc.mapping(item.node, item.path, areaKeys);
    if (map === null) continue;
    const nameEntry = map.get('name');
    const areaName = itemName(doc, nameEntry, item.node, item.path, 'area');
    if (areaName !== undefined && nameEntry !== undefined) firstOf(doc, names, areaName, nameEntry, 'area name');
    const prefixesEntry = map.get('prefixes');
    let prefixes: Cidr[] = [];
    if (prefixesEntry === undefined || doc.sequenceLength(prefixesEntry) === 0) {
      doc.report(prefixesEntry?.node ?? item.node, `${item.path}.prefixes`, 'ERR_CONFIG_REQUIRED', 'every area needs at least one prefix, like 203.0.113.0/24');
    } else {
      prefixes = parsedList(doc, prefixesEntry, 'ERR_CONFIG_CIDR', parseCidr) ?? [];
    }
    out.push({ name: areaName ?? '', prefixes });
  }
  return out;
}
