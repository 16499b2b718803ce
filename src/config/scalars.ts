/**
 * Typed reads of single values of the config file: text, integers, switches, lists of parsed items, and
 * the kinds the blocks share (HA1 hex, SIP user parts, names). Each returns the value, or undefined after
 * reporting the problem at the node. A secret's problem never shows its value.
 */
import { isScalar } from 'yaml';
import { parseInteger, parseSwitch, showValue } from './params.js';
import type { ConfigProblemCode } from './problems.js';
import { quote } from './net.js';
import { SECRET_KEY } from './redact.js';
import type { ConfigDocument, Entry } from './yaml.js';

/** RFC 3261 §25.1 `user`: unreserved / user-unreserved characters. Escapes (%HH) are refused so that
 *  the number, the AOR user and the digest username are the same string byte for byte. */
const SIP_USER = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/]+$/;
const SIP_USER_LENGTH_MAX = 64; // longer than any E.164 number or extension plan needs
const NAME_LENGTH_MAX = 64;     // trunk and area names, shown in fixed-width screens

/**
 * Text. YAML numbers are accepted as the digits written (`number: 1001`), but not when YAML would
 * change them: `0644` (read as 644, or as octal 420 by YAML 1.1 tools), `1001.50`, `1e3`, `0x1F`.
 * With `secret`, no message shows the value.
 */
export function text(doc: ConfigDocument, entry: Entry, secret = SECRET_KEY.test(entry.key)): string | undefined {
  const n = doc.resolveAlias(entry.node);
  if (!isScalar(n)) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be text. Received ${doc.describe(n)}`);
    return undefined;
  }
  const value = n.value;
  if (typeof value === 'string') return value;
  if (typeof value === 'number') {
    const source = n.source ?? String(value);
    if (/^(0|[1-9][0-9]*)$/.test(source)) return source;
    doc.report(entry.node, entry.path, 'ERR_CONFIG_UNQUOTED', secret
      ? 'is read by YAML as a number, which changes it; put it in quotes'
      : `is read by YAML as the number ${String(value)}, not the text ${source}; put it in quotes: "${source}"`);
    return undefined;
  }
  if (value === null) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_REQUIRED', 'must not be empty');
    return undefined;
  }
  doc.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', secret
    ? 'must be text; put it in quotes'
    : `must be text; put it in quotes. Received ${showValue(value)}`);
  return undefined;
}

/** Non-empty text; `expected` says what belongs there. */
export function requiredText(doc: ConfigDocument, entry: Entry, expected: string): string | undefined {
  const value = text(doc, entry);
  if (value === undefined) return undefined;
  if (value.trim() === '') {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_REQUIRED', `must not be empty; ${expected}`);
    return undefined;
  }
  return value;
}

export function integer(doc: ConfigDocument, entry: Entry, min: number, max: number, unit: string, rangeNote = ''): number | undefined {
  const n = doc.resolveAlias(entry.node);
  const value = isScalar(n) ? n.value : undefined;
  const parsed = parseInteger(value);
  if (parsed === null) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be an integer${unit === '' ? '' : ` (${unit})`}. Received ${doc.describe(n)}`);
    return undefined;
  }
  if (parsed < min || parsed > max) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_RANGE', `must be ${min}..${max}${rangeNote}. Received ${parsed}`);
    return undefined;
  }
  return parsed;
}

export function onOff(doc: ConfigDocument, entry: Entry): boolean | undefined {
  const n = doc.resolveAlias(entry.node);
  const value = isScalar(n) ? n.value : undefined;
  const parsed = parseSwitch(value);
  if (parsed === null) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_OPTION', `must be On or Off (also 1/0, true/false, yes/no). Received ${doc.describe(n)}`);
    return undefined;
  }
  return parsed;
}

/** Every item of a list (or one string) parsed by `parse`; a failing item is reported with `code` and
 *  skipped, and then the whole list is undefined. */
export function parsedList<T>(doc: ConfigDocument, entry: Entry, code: ConfigProblemCode,
  parse: (text: string) => { value: T | null; error: string | null }): T[] | undefined {
  const items = doc.sequence(entry, true);
  if (items === null) return undefined;
  const out: T[] = [];
  let failed = false;
  for (const item of items) {
    const value = text(doc, item);
    if (value === undefined) { failed = true; continue; }
    const parsed = parse(value.trim());
    if (parsed.value === null) {
      doc.report(item.node, item.path, code, parsed.error ?? 'is not valid');
      failed = true;
      continue;
    }
    out.push(parsed.value);
  }
  return failed ? undefined : out;
}

/** Lower-case hex of `digits` length; the message names the length seen, never the value. */
export function hex(doc: ConfigDocument, entry: Entry | undefined, digits: number, what: string): string | undefined {
  if (!doc.given(entry)) return undefined;
  const value = text(doc, entry, true);
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(trimmed)) {
    const seen = /^[0-9a-fA-F]*$/.test(trimmed) ? `${trimmed.length} hex digits` : `${trimmed.length} characters, not all hex`;
    doc.report(entry.node, entry.path, 'ERR_CONFIG_HA1', `must be ${digits} hex digits (the ${what}). Received ${seen}`);
    return undefined;
  }
  return trimmed.toLowerCase();
}

/** A SIP user part: the number of an account, the username of a trunk. */
export function sipUser(doc: ConfigDocument, entry: Entry): string | undefined {
  const value = text(doc, entry);
  if (value === undefined) return undefined;
  if (value === '') {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_REQUIRED', 'must not be empty');
    return undefined;
  }
  if (value.includes('@')) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_SIP_USER', `must be the user part only, without @domain. Received ${quote(value)}`);
    return undefined;
  }
  if (!SIP_USER.test(value) || value.length > SIP_USER_LENGTH_MAX) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_SIP_USER',
      `must be a SIP user of at most ${SIP_USER_LENGTH_MAX} letters, digits and -_.!~*'()&=+$,;?/ (no spaces, @ or :). Received ${quote(value)}`);
    return undefined;
  }
  return value;
}

/** A trunk's or an area's name: non-empty, printable, at most NAME_LENGTH_MAX characters. `itemNode`
 *  and `path` are the list item's, for a missing name; `what` names the item in that message. */
export function itemName(doc: ConfigDocument, entry: Entry | undefined, itemNode: unknown, path: string, what: string): string | undefined {
  if (entry === undefined || doc.isNull(entry.node)) {
    doc.report(entry?.node ?? itemNode, `${path}.name`, 'ERR_CONFIG_REQUIRED', `every ${what} needs a name`);
    return undefined;
  }
  const value = text(doc, entry);
  if (value === undefined) return undefined;
  if (value.trim() === '') { doc.report(entry.node, entry.path, 'ERR_CONFIG_REQUIRED', 'must not be empty'); return undefined; }
  if (value.length > NAME_LENGTH_MAX || /[\x00-\x1f\x7f]/.test(value)) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be at most ${NAME_LENGTH_MAX} printable characters. Received ${quote(value)}`);
    return undefined;
  }
  return value;
}

/** Remembers the first entry of each value (account number, trunk name, area name) and reports a later
 *  one as `duplicate <what> "value" (first at line N)`; true when the value is new. */
export function firstOf(doc: ConfigDocument, seen: Map<string, Entry>, value: string, entry: Entry, what: string): boolean {
  const first = seen.get(value);
  if (first !== undefined) {
    doc.report(entry.node, entry.path, 'ERR_CONFIG_DUPLICATE', `duplicate ${what} ${quote(value)} (first at line ${doc.position(first.node).line})`);
    return false;
  }
  seen.set(value, entry);
  return true;
}
