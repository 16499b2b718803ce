/**
 * The `trunks:` block: each upstream registrar sipreg registers with, where it is, who we are there and
 * how we answer its challenges.
 */
import { paramSpecByName } from './params.js';
import { parseHost, parseHostPort, quote } from './net.js';
import { paramValue } from './read-params.js';
import { firstOf, integer, itemName, onOff, sipUser, text } from './scalars.js';
import type { Trunk } from './types.js';
import type { ConfigDocument, Entry } from './yaml.js';

const trunkKeys = ['name', 'registrar', 'port', 'proxy', 'domain', 'username', 'auth_user', 'password', 'expire', 'enabled', 'allow_md5_without_qop'] as const;

type Field = (key: string) => Entry | undefined;

export function readTrunks(doc: ConfigDocument, entry: Entry | undefined): Trunk[] {
  if (entry === undefined) return [];
  const items = doc.sequence(entry);
  if (items === null) return [];
  const out: Trunk[] = [];
  const names = new Map<string, Entry>();
  for (const item of items) {
    const trunk = readTrunk(doc, item, names);
    if (trunk !== null) out.push(trunk);
  }
  return out;
}

/** One `trunks:` item; `names` holds the names seen so far, for the duplicate check. */
function readTrunk(doc: ConfigDocument, item: Entry, names: Map<string, Entry>): Trunk | null {
  const map = doc.mapping(item.node, item.path, trunkKeys);
  if (map === null) return null;
  const field: Field = (key) => map.get(key);
  const uaExpire = paramSpecByName.get('SS_SIP_USER_AGENT_EXPIRE');

  const nameEntry = field('name');
  const trunkName = itemName(doc, nameEntry, item.node, item.path, 'trunk');
  if (trunkName !== undefined && nameEntry !== undefined) firstOf(doc, names, trunkName, nameEntry, 'trunk name');

  const { registrar, port, proxy, domain } = trunkAddresses(doc, field, item);
  const { username, authUser, password } = trunkCredentials(doc, field, item);

  let expiresS: Trunk['expiresS'] = null;
  const expireEntry = field('expire');
  if (doc.given(expireEntry) && uaExpire !== undefined) {
    const value = paramValue(doc, uaExpire, expireEntry);
    if (value === 'auto' || typeof value === 'number') expiresS = value;
  }

  let enabled = true;
  const enabledEntry = field('enabled');
  if (enabledEntry !== undefined) enabled = onOff(doc, enabledEntry) ?? true;

  // Off by default: an answer without qop has no cnonce or nonce-count, so a captured one replays.
  let allowMd5WithoutQop = false;
  const noQopEntry = field('allow_md5_without_qop');
  if (noQopEntry !== undefined) allowMd5WithoutQop = onOff(doc, noQopEntry) ?? false;

  return { name: trunkName ?? '', registrar, port, proxy, username, authUser, password, expiresS, enabled, domain, allowMd5WithoutQop };
}

/** Who we are at the trunk: username (required; the user in From/To), auth_user (the digest username,
 *  username by default), password. */
function trunkCredentials(doc: ConfigDocument, field: Field, item: Entry): { username: string; authUser: string; password: string } {
  let username = '';
  const usernameEntry = field('username');
  if (usernameEntry === undefined || doc.isNull(usernameEntry.node)) {
    doc.report(usernameEntry?.node ?? item.node, `${item.path}.username`, 'ERR_CONFIG_REQUIRED', 'every trunk needs a username (the user in From/To)');
  } else {
    username = sipUser(doc, usernameEntry) ?? '';
  }

  let authUser = username;
  const authUserEntry = field('auth_user');
  if (doc.given(authUserEntry)) {
    const value = text(doc, authUserEntry);
    if (value !== undefined && value !== '') {
      // The digest username is a quoted-string (RFC 2617 §3.2.2); keep it printable and unquoted.
      if (/["\\\x00-\x1f\x7f]/.test(value)) doc.report(authUserEntry.node, authUserEntry.path, 'ERR_CONFIG_TYPE', `must not contain quotes, backslashes or control characters. Received ${quote(value)}`);
      else authUser = value;
    }
  }

  let password = '';
  const passwordEntry = field('password');
  if (doc.given(passwordEntry)) password = text(doc, passwordEntry, true) ?? '';
  return { username, authUser, password };
}

/** Where a trunk registers: registrar (required), port, proxy, domain (the registrar's by default). */
function trunkAddresses(doc: ConfigDocument, field: Field, item: Entry):
  { registrar: string; port: number | null; proxy: Trunk['proxy']; domain: string } {
  let registrar = '';
  const registrarEntry = field('registrar');
  if (registrarEntry === undefined || doc.isNull(registrarEntry.node)) {
    doc.report(registrarEntry?.node ?? item.node, `${item.path}.registrar`, 'ERR_CONFIG_REQUIRED', 'every trunk needs a registrar (host name or IP address)');
  } else {
    const value = text(doc, registrarEntry);
    if (value !== undefined) {
      const parsed = parseHost(value.trim());
      if (parsed.value === null) doc.report(registrarEntry.node, registrarEntry.path, 'ERR_CONFIG_HOST', parsed.error);
      else registrar = parsed.value;
    }
  }

  let port: number | null = null;
  const portEntry = field('port');
  if (doc.given(portEntry)) port = integer(doc, portEntry, 1, 65535, '') ?? null;

  let proxy: Trunk['proxy'] = null;
  const proxyEntry = field('proxy');
  if (doc.given(proxyEntry)) {
    const value = text(doc, proxyEntry);
    if (value !== undefined && value.trim() !== '') {
      const parsed = parseHostPort(value.trim());
      if (parsed.value === null) doc.report(proxyEntry.node, proxyEntry.path, 'ERR_CONFIG_ADDRESS', parsed.error);
      else proxy = parsed.value;
    }
  }

  let domain = registrar;
  const domainEntry = field('domain');
  if (doc.given(domainEntry)) {
    const value = text(doc, domainEntry);
    if (value !== undefined && value.trim() !== '') {
      const parsed = parseHost(value.trim());
      if (parsed.value === null) doc.report(domainEntry.node, domainEntry.path, 'ERR_CONFIG_HOST', parsed.error);
      else domain = parsed.value;
    }
  }

  return { registrar, port, proxy, domain };
}
