/**
 * The operator's words for what the registrar, the guard and the trunk client recorded: a failure column leads with "wrong password" or "unknown number" and puts the SIP status
 * after it, so a cut cell still says what matters; and a hint says what to do about a known mistake
 * (sipsak's `username="1003@"`, an expiry under SS_ENDPOINT_MIN_EXPIRE). Everything is read from what
 * the store holds (the event's detail, number and User-Agent), so it works on any stored history.
 */
import type { EventRecord, LockoutRecord, TrunkStateRecord } from '../store/index.js';
import type { Trunk } from '../config/types.js';

const STATUS_AT_START = /^(\d{3})\b/;

/**
 * The digest username a refusal names, or null: `digest response for user 1003@ did not match (...)`
 * and `digest user 1003@ does not own AOR 1003` (the registrar has written both) → `1003@`.
 */
function digestUser(detail: string): string | null {
  return /digest (?:response for )?user (\S+) (?:did not match|does not own AOR)/.exec(detail)?.[1] ?? null;
}

/**
 * Whether a refusal says the digest username is no account: "no such account", or a username that
 * cannot be one (an `@` in it: sipsak's `1003@`; config numbers are SIP user parts, which hold none).
 */
function userIsNoAccount(detail: string, user: string | null): boolean {
  return /\(no such account\)/.test(detail) || (user !== null && user.includes('@'));
}

function isSipsak(userAgent: string): boolean {
  return /^sipsak\b/i.test(userAgent);
}

/** A refused REGISTER in a few words, then its status: `wrong password (403)`, `expiry too short (423)`. */
export function eventWords(e: EventRecord): string {
  const d = e.detail;
  const status = STATUS_AT_START.exec(d)?.[1];
  const suffix = status === undefined ? '' : ` (${status})`;
  let words: string | null = null;
  if (e.type === 'locked_out') words = 'suspended';
  else if (/wrong password/.test(d)) words = 'wrong password';
  else if (userIsNoAccount(d, digestUser(d))) {
    const user = digestUser(d);
    words = user === null || user === e.number ? 'unknown number' : `unknown user ${user}`;
  } else if (/not in allow|outside \S*allow|not allowed/.test(d)) words = 'source not allowed';
  else if (/does not own AOR/.test(d)) words = 'user does not own number';
  else if (/held by an operator/.test(d)) words = 'held by operator';
  else if (/^423\b/.test(d)) words = 'expiry too short';
  else if (/Too Many Registrations/.test(d)) words = 'too many devices';
  else if (/^404\b/.test(d)) words = 'domain not served';
  else if (/^420\b/.test(d)) words = 'unsupported extension';
  else if (/Out of Order/.test(d)) words = 'out-of-order CSeq';
  else if (/digest uri .* is not the Request-URI/.test(d)) words = 'digest uri mismatch';
  else if (/^500\b/.test(d)) words = 'server error';
  else if (/^400\b/.test(d)) words = 'malformed request';
  if (words === null) {
    // A detail of another shape: its words up to the first colon, after its status.
    const m = /^(\d{3}) ([^:]{1,40})/.exec(d);
    if (m === null) return d;
    words = m[2]!.trim();
  }
  return `${words}${/; suspended/.test(d) ? ', suspended' : ''}${suffix}`;
}

/**
 * What happened and what to do, for the refusals that have a usual cause; null otherwise. The answers on
 * the wire stay as they are (an unknown user is refused like a wrong password): this is for the operator.
 */
export function eventHint(e: EventRecord): string | null {
  const d = e.detail;
  const sipsak = isSipsak(e.userAgent);
  const user = digestUser(d);
  if (userIsNoAccount(d, user)) {
    if (user !== null && user !== e.number) {
      const fix = sipsak ? `sipsak needs -u ${e.number}` : `set the phone's authentication user to ${e.number}`;
      return `digest username \`${user}\` is not an account; ${fix}`;
    }
    return `${e.number} is not in the config's accounts: add it under accounts: and reload`;
  }
  if (/wrong password/.test(d)) {
    return `the phone's password is not the one in the config for ${e.number}${sipsak ? ' (sipsak: -a PASSWORD)' : ''}`;
  }
  const brief = /asked (\d+) s < SS_ENDPOINT_MIN_EXPIRE (\d+)/.exec(d);
  if (brief !== null) {
    const min = brief[2]!;
    return `asked ${brief[1]} s, minimum is SS_ENDPOINT_MIN_EXPIRE ${min}; ` +
      (sipsak ? `sipsak -U asks 15 s unless given -x ${min}` : `set the phone's registration expiry to ${min} s or more`);
  }
  if (/does not own AOR/.test(d)) return `the phone authenticates as another number: set its user and authentication user both to ${e.number}`;
  if (/not in allow/.test(d)) return `the phone's address is not in accounts[${e.number}].allow: add it, or check the phone's network`;
  return null;
}

/** A suspension's cause in a few words: `wrong password x6`, `scanner: 5 numbers`, `held by console`. */
export function lockoutWords(l: LockoutRecord): string {
  if (/^SS_ENDPOINT_REGISTER_RETRY\b/.test(l.reason)) return `wrong password x${l.failures}`;
  if (/^SS_REGISTER_SCANNER_NUMBERS\b/.test(l.reason)) return `scanner: ${l.failures} numbers`;
  const held = /^held by (\S+)/.exec(l.reason);
  if (held !== null) return `held by ${held[1]}`;
  return l.reason;
}

/** What lifts a suspension, and what it means. */
export function lockoutHint(l: LockoutRecord): string {
  if (l.kind === 'pair') return `only ${l.number} from ${l.address} is refused; the number still works from elsewhere. Wrong password on that phone, or someone guessing it`;
  if (l.kind === 'address') return `every number from ${l.address} is refused: it failed for many numbers (a scanner), or a PBX behind it has wrong passwords`;
  return `${l.number} is refused from everywhere until the hold ends or is lifted`;
}

/** A trunk's last answer in a few words, then its status: `bad credentials (401)`, `no answer`. */
export function trunkWords(r: TrunkStateRecord | null): string {
  if (r === null) return '-';
  const colon = r.lastReason.indexOf(':');
  const lead = colon > 0 && colon <= 40 ? r.lastReason.slice(0, colon) : r.lastReason;
  const words = lead.replace(/; .*$/, '').trim();
  if (r.lastStatus === null) return words || '-';
  return words === '' ? String(r.lastStatus) : `${words} (${r.lastStatus})`;
}

/** What to check for a trunk that fails, from its last reason and its configured settings; null when it is fine. */
export function trunkHint(r: TrunkStateRecord | null, t: Trunk | undefined): string | null {
  if (r === null || r.state === 'registered' || r.state === 'disabled' || r.lastReason === '') return null;
  const reason = r.lastReason;
  const user = t === undefined ? null : (t.authUser === '' ? t.username : t.authUser);
  if (/^(bad credentials|forbidden)\b/.test(reason)) {
    return `the upstream refuses our credentials: compare ${user === null ? 'auth_user' : `auth_user "${user}"`} and the password with ` +
      'what the provider gave (the password is not shown here), and username/domain with its account';
  }
  if (/^no answer\b/.test(reason)) return 'nothing came back: check registrar and port, the firewall, and that the provider takes UDP';
  if (/^unknown user or domain\b/.test(reason)) return 'the provider does not know this account: check username and domain';
  if (/^server error\b/.test(reason)) return 'the provider failed; sipreg retries every SS_SIP_USER_AGENT_RETRY_DELAY. Ask the provider if it lasts';
  if (/^expiry refused\b/.test(reason)) return 'the provider refuses the expiry asked: set the trunk\'s expire to its Min-Expires';
  if (/^cannot answer the challenge\b/.test(reason)) return 'the provider\'s challenge is one sipreg will not answer (see the reason); allow_md5_without_qop only if it must';
  return null;
}
