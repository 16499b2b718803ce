/**
 * The `accounts:` block: each phone's number, how it authenticates (password or HA1, source addresses),
 * its customer and its own expiry. Passwords are turned into HA1 values here and not kept.
 */
import { createHash } from 'node:crypto';
import { parseAllowEntry, quote } from './net.js';
import { firstOf, hex, integer, sipUser, text } from './scalars.js';
import type { Account, AllowEntry, AuthMode, Params } from './types.js';
import type { ConfigDocument, Entry } from './yaml.js';

const accountKeys = ['number', 'password', 'ha1', 'ha1_sha256', 'account', 'auth_mode', 'allow', 'expire'] as const;
const authModes: readonly AuthMode[] = ['password', 'ip', 'ip_port', 'ip_password'];

type Field = (key: string) => Entry | undefined;

/** `realm` and `params` as read from the same file: the HA1 is of number:realm:password, and an
 *  account's expire must lie within SS_ENDPOINT_MIN_EXPIRE..SS_ENDPOINT_MAX_EXPIRE. */
export function readAccounts(doc: ConfigDocument, entry: Entry | undefined, realm: string, params: Params): Account[] {
  if (entry === undefined) return [];
  const items = doc.sequence(entry);
  if (items === null) return [];
  const out: Account[] = [];
  const numbers = new Map<string, Entry>();
  for (const item of items) {
    const account = readAccount(doc, item, numbers, realm, params);
    if (account !== null) out.push(account);
  }
  return out;
}

/** One `accounts:` item; `numbers` holds the numbers seen so far, for the duplicate check. */
function readAccount(doc: ConfigDocument, item: Entry, numbers: Map<string, Entry>, realm: string, params: Params): Account | null {
  const map = doc.mapping(item.node, item.path, accountKeys);
  if (map === null) return null;
  const field: Field = (key) => map.get(key);
  const number = accountNumber(doc, field('number'), item, numbers);
  const authMode = readAuthMode(doc, field('auth_mode'));
  const { password, ha1, ha1Sha256 } = accountSecrets(doc, field, item, authMode, params);
  const allow = accountAllow(doc, field('allow'), item, authMode);

  let expiresS: number | null = null;
  const expireEntry = field('expire');
  if (doc.given(expireEntry)) {
    expiresS = integer(doc, expireEntry, params.endpointMinExpiresS, params.endpointMaxExpiresS, 's',
      ' (SS_ENDPOINT_MIN_EXPIRE..SS_ENDPOINT_MAX_EXPIRE)') ?? null;
  }

  let account = '';
  const accountEntry = field('account');
  if (doc.given(accountEntry)) account = text(doc, accountEntry) ?? '';

  const user = number ?? '';
  return {
    number: user,
    account,
    authMode,
    ha1: {
      md5: password !== undefined ? digestHex('md5', `${user}:${realm}:${password}`) : ha1 ?? null,
      sha256: password !== undefined ? digestHex('sha256', `${user}:${realm}:${password}`) : ha1Sha256 ?? null,
    },
    allow,
    expiresS,
  };
}

function readAuthMode(doc: ConfigDocument, modeEntry: Entry | undefined): AuthMode {
  if (modeEntry === undefined) return 'password';
  const value = text(doc, modeEntry);
  const mode = authModes.find((m) => m === value?.trim().toLowerCase());
  if (value !== undefined && mode === undefined) {
    doc.report(modeEntry.node, modeEntry.path, 'ERR_CONFIG_OPTION', `must be one of ${authModes.join(', ')}. Received ${quote(value)}`);
  }
  return mode ?? 'password';
}

function accountNumber(doc: ConfigDocument, numberEntry: Entry | undefined, item: Entry, numbers: Map<string, Entry>): string | undefined {
  if (numberEntry === undefined || doc.isNull(numberEntry.node)) {
    doc.report(numberEntry?.node ?? item.node, `${item.path}.number`, 'ERR_CONFIG_REQUIRED', 'every account needs a number (its SIP user and digest username)');
    return undefined;
  }
  const number = sipUser(doc, numberEntry);
  if (number !== undefined) firstOf(doc, numbers, number, numberEntry, 'account number');
  return number;
}

/** password, ha1, ha1_sha256: at most one way to give each secret, and one at all when the mode needs it. */
function accountSecrets(doc: ConfigDocument, field: Field, item: Entry, authMode: AuthMode, params: Params):
  { password: string | undefined; ha1: string | undefined; ha1Sha256: string | undefined } {
  const passwordEntry = field('password');
  let password: string | undefined;
  if (doc.given(passwordEntry)) {
    password = text(doc, passwordEntry, true);
    if (password === '') password = undefined;
  }
  const ha1 = hex(doc, field('ha1'), 32, 'MD5 of number:realm:password');
  const ha1Sha256 = hex(doc, field('ha1_sha256'), 64, 'SHA-256 of number:realm:password');
  if (password !== undefined && ha1 !== undefined) {
    doc.report(field('ha1')?.node, `${item.path}.ha1`, 'ERR_CONFIG_CONFLICT', 'give password or ha1, not both');
  }
  if (password !== undefined && ha1Sha256 !== undefined) {
    doc.report(field('ha1_sha256')?.node, `${item.path}.ha1_sha256`, 'ERR_CONFIG_CONFLICT', 'give password or ha1_sha256, not both');
  }
  const hasSecret = password !== undefined || ha1 !== undefined;
  const secretGiven = hasSecret || [passwordEntry, field('ha1')].some((e) => e !== undefined && !doc.isNull(e.node) && doc.nonEmptyScalar(e.node));
  if ((authMode === 'password' || authMode === 'ip_password') && !secretGiven) {
    doc.report(passwordEntry?.node ?? item.node, `${item.path}.password`, 'ERR_CONFIG_REQUIRED', `auth_mode ${authMode} needs a password (or ha1)`);
  }
  // An account reachable only with SHA-256 must have a SHA-256 HA1.
  if (!params.authAlgorithms.includes('MD5') && ha1 !== undefined && ha1Sha256 === undefined && password === undefined) {
    doc.report(field('ha1')?.node, `${item.path}.ha1`, 'ERR_CONFIG_RELATION',
      'SS_AUTH_ALGORITHMS offers SHA-256 only and this account has only an MD5 ha1; give password or ha1_sha256');
  }
  return { password, ha1, ha1Sha256 };
}

/** `allow:` the source addresses an ip* auth_mode trusts (with a port each for ip_port). */
function accountAllow(doc: ConfigDocument, allowEntry: Entry | undefined, item: Entry, authMode: AuthMode): AllowEntry[] {
  const allow: AllowEntry[] = [];
  if (allowEntry !== undefined) {
    const items = doc.sequence(allowEntry, true) ?? [];
    for (const a of items) {
      const value = text(doc, a);
      if (value === undefined) continue;
      const parsed = parseAllowEntry(value.trim());
      if (parsed.value === null) { doc.report(a.node, a.path, 'ERR_CONFIG_CIDR', parsed.error); continue; }
      if (authMode === 'ip_port' && parsed.value.port === null) {
        doc.report(a.node, a.path, 'ERR_CONFIG_REQUIRED', `auth_mode ip_port needs a port on each entry, like 203.0.113.7:5062. Received ${quote(value)}`);
        continue;
      }
      allow.push(parsed.value);
    }
  }
  if (authMode !== 'password' && (allowEntry === undefined || doc.sequenceLength(allowEntry) === 0)) {
    doc.report(allowEntry?.node ?? item.node, `${item.path}.allow`, 'ERR_CONFIG_REQUIRED',
      `auth_mode ${authMode} needs a non-empty allow list (the source addresses it trusts)`);
  }
  return allow;
}

function digestHex(algorithm: 'md5' | 'sha256', input: string): string {
  return createHash(algorithm).update(input, 'utf8').digest('hex');
}
