/**
 * The `sip:` block: the addresses to listen on, the digest realm, the domains served, the Server and
 * User-Agent header.
 */
import { limits } from '../limits.js';
import { configDefaults } from './defaults.js';
import { parseCidr, parseHost, parseListenEntry, quote } from './net.js';
import { parsedList, requiredText, text } from './scalars.js';
import type { Config, ListenAddress } from './types.js';
import type { ConfigDocument, Entry } from './yaml.js';

const sipKeys = ['listen', 'realm', 'domains', 'user_agent'] as const;

export function readSip(doc: ConfigDocument, entry: Entry | undefined): Config['sip'] {
  const defaultListen = configDefaults.listen.map((t) => parseListenEntry(t).value).filter((l): l is ListenAddress => l !== null);
  const sip = { listen: defaultListen, realm: configDefaults.realm as string, domains: [] as string[], userAgent: configDefaults.userAgent as string };
  const map = entry === undefined ? new Map<string, Entry>() : doc.mapping(entry.node, entry.path, sipKeys);
  if (map === null) return sip;

  const listenEntry = map.get('listen');
  if (listenEntry !== undefined) sip.listen = readListen(doc, listenEntry);

  const realmEntry = map.get('realm');
  if (realmEntry !== undefined) sip.realm = readRealm(doc, realmEntry) ?? sip.realm;

  const domainsEntry = map.get('domains');
  if (domainsEntry !== undefined) {
    sip.domains = (parsedList(doc, domainsEntry, 'ERR_CONFIG_HOST', parseHost) ?? []).map((d) => d.toLowerCase());
  }

  const uaEntry = map.get('user_agent');
  if (uaEntry !== undefined) {
    const ua = requiredText(doc, uaEntry, 'the Server/User-Agent header sipreg sends');
    if (ua !== undefined) {
      if (/[\x00-\x1f\x7f]/.test(ua)) doc.report(uaEntry.node, uaEntry.path, 'ERR_CONFIG_TYPE', `must not contain control characters. Received ${quote(ua)}`);
      else sip.userAgent = ua.trim();
    }
  }
  return sip;
}

/** `listen:` one address or a list of 1..limits.listenAddressCountMax, no address twice. */
function readListen(doc: ConfigDocument, listenEntry: Entry): ListenAddress[] {
  const listen: ListenAddress[] = [];
  const items = doc.sequence(listenEntry, true);
  if (items !== null && items.length === 0) {
    doc.report(listenEntry.node, listenEntry.path, 'ERR_CONFIG_REQUIRED', 'must list at least one address to listen on, like "0.0.0.0:5060"');
  }
  if (items !== null && items.length > limits.listenAddressCountMax) {
    doc.report(listenEntry.node, listenEntry.path, 'ERR_CONFIG_RANGE', `must list at most ${limits.listenAddressCountMax} addresses. Received ${items.length}`);
  }
  const seen = new Map<string, Entry>();
  for (const item of items ?? []) {
    const value = text(doc, item);
    if (value === undefined) continue;
    const parsed = parseListenEntry(value.trim());
    if (parsed.value === null) { doc.report(item.node, item.path, 'ERR_CONFIG_ADDRESS', parsed.error); continue; }
    const canonical = `${canonicalAddress(parsed.value.host)}/${parsed.value.port}`; // [::0] is [::]
    const first = seen.get(canonical);
    if (first !== undefined) {
      doc.report(item.node, item.path, 'ERR_CONFIG_DUPLICATE', `listens on ${quote(value)} twice (first at line ${doc.position(first.node).line})`);
      continue;
    }
    seen.set(canonical, item);
    listen.push(parsed.value);
  }
  return listen;
}

/** The address as bytes (hex), so two spellings of one address compare equal. */
function canonicalAddress(host: string): string {
  const cidr = parseCidr(host).value;
  return cidr === null ? host.toLowerCase() : Buffer.from(cidr.bytes).toString('hex');
}

/** `realm:` it goes inside a quoted-string of WWW-Authenticate (RFC 3261 §25.1). */
function readRealm(doc: ConfigDocument, realmEntry: Entry): string | undefined {
  const realm = text(doc, realmEntry);
  if (realm === undefined) return undefined;
  if (realm.trim() === '') {
    doc.report(realmEntry.node, realmEntry.path, 'ERR_CONFIG_REQUIRED', 'must not be empty; the digest realm phones show when asking for a password');
    return undefined;
  }
  if (/["\\\x00-\x1f\x7f]/.test(realm)) {
    doc.report(realmEntry.node, realmEntry.path, 'ERR_CONFIG_TYPE', `must not contain quotes, backslashes or control characters. Received ${quote(realm)}`);
    return undefined;
  }
  return realm;
}
