/**
 * The one table of every SS_* parameter. Validation, defaults, README's parameter table
 * (`renderParamsMarkdown`) and the console's parameter screen (`renderParamsListing`) all read it, so
 * the three never disagree. Names are the operators' own (REFERENCE.md); each maps once to a `Params`
 * field whose name carries its unit.
 *
 * Defaults are chosen so that a normal phone, and a normal office of phones, is never hurt by them:
 * limits only bite on behaviour no well-configured device shows.
 */
import type { DigestAlgorithm, Params, Privacy } from './types.js';

export type ParamOrigin = 'manual' | 'sipreg';

interface ParamSpecBase {
  readonly name: string;            // YAML key, exactly as installers type it
  readonly field: keyof Params;
  readonly unit: string;            // 's', '%', 'attempts' ...; '' when none
  readonly description: string;     // one line, for README and the console
  readonly origin: ParamOrigin;     // 'manual': the operators' manual; 'sipreg': ours
}

/** An integer in min..max; with `zeroOff`, 0 is also accepted and means "off" (or what `zeroMeans` says). */
export interface IntParamSpec extends ParamSpecBase {
  readonly kind: 'int';
  readonly default: number;
  readonly min: number;
  readonly max: number;
  readonly zeroOff: boolean;
  /** What 0 means when accepted: `off`, or e.g. `auto`. */
  readonly zeroMeans: string;
}

/** On/Off; also 1/0, true/false, yes/no in any case, and YAML booleans. */
export interface SwitchParamSpec extends ParamSpecBase {
  readonly kind: 'switch';
  readonly default: boolean;
}

/** One of a few words, any case; `value` is what `Params` holds, `text` what the operator types. */
export interface EnumParamSpec extends ParamSpecBase {
  readonly kind: 'enum';
  readonly default: string;
  readonly options: readonly { readonly text: string; readonly value: string }[];
}

/** `Auto` or an integer in min..max (the manual's "Auto Negotiation or 20-7200"). */
export interface ExpiryParamSpec extends ParamSpecBase {
  readonly kind: 'expiry';
  readonly default: number | 'auto';
  readonly min: number;
  readonly max: number;
}

/** A non-empty list of distinct options, as a YAML list or a comma-separated string. */
export interface ListParamSpec extends ParamSpecBase {
  readonly kind: 'list';
  readonly default: readonly string[];
  readonly options: readonly string[];
}

export type ParamSpec = IntParamSpec | SwitchParamSpec | EnumParamSpec | ExpiryParamSpec | ListParamSpec;

type Base = Omit<ParamSpecBase, 'origin'>;
const manual = 'manual' as const;
const ours = 'sipreg' as const;

function int(base: Base, origin: ParamOrigin, defaultValue: number, min: number, max: number, zeroOff = false, zeroMeans = 'off'): IntParamSpec {
  return { ...base, origin, kind: 'int', default: defaultValue, min, max, zeroOff, zeroMeans };
}
function onOff(base: Base, origin: ParamOrigin, defaultValue: boolean): SwitchParamSpec {
  return { ...base, origin, kind: 'switch', default: defaultValue };
}

/** Every parameter, in the order README and the console show them: the manual's first. */
export const paramSpecs: readonly ParamSpec[] = [
  // ---- The operators' manual (REFERENCE.md) ----
  int({ name: 'SS_ENDPOINT_EXPIRE', field: 'endpointExpiresS', unit: 's',
    description: 'registration expiry granted to a phone that asks for none (or more than allowed)' }, manual, 3600, 20, 86400),
  int({ name: 'SS_ENDPOINT_NAT_EXPIRE', field: 'endpointNatExpiresS', unit: 's',
    description: 'registration expiry granted to a phone behind NAT, short to keep its pinhole open' }, manual, 300, 20, 86400),
  int({ name: 'SS_ENDPOINT_REGISTER_RETRY', field: 'registerRetryCount', unit: 'attempts',
    description: 'failed authentications of one number before it is suspended; 0 = never suspend' }, manual, 6, 0, 100),
  int({ name: 'SS_ENDPOINT_REGISTER_SUSPEND', field: 'registerSuspendS', unit: 's',
    description: 'how long a suspended number (or address) stays refused' }, manual, 180, 1, 86400),
  onOff({ name: 'SS_ENDPOINT_REGISTER_REPLACE', field: 'registerReplace', unit: '',
    description: 'On: a new device replaces the oldest binding when full; Off: the newcomer is refused' }, manual, true),
  // At most 10: a 200 OK lists every binding of the AOR (RFC 3261 §10.3 step 8) and must fit one UDP
  // half response slot (limits.registerOkSizeMax, 4096 B, at up to ~300 B a Contact with its parameters).
  int({ name: 'SERVER_REGISTRAR_MAX_BINDINGS', field: 'bindingsPerAorMax', unit: 'bindings',
    description: 'contacts one number may have registered at once' }, manual, 1, 1, 10),
  { name: 'SS_SIP_USER_AGENT_EXPIRE', field: 'uaExpiresS', unit: 's', origin: manual, kind: 'expiry', default: 'auto', min: 20, max: 7200,
    description: 'trunk register period: Auto takes what the provider grants; a number is requested' },
  int({ name: 'SS_SIP_USER_AGENT_RETRY_DELAY', field: 'uaRetryDelayS', unit: 's',
    description: 'wait after a failed trunk registration before the next attempt (fixed, no backoff)' }, manual, 60, 30, 600),
  onOff({ name: 'SS_SIP_USER_AGENT_SEND_UNREGISTER', field: 'uaSendUnregister', unit: '',
    description: 'send REGISTER Expires: 0 for each trunk when it is removed or sipreg stops' }, manual, true),
  { name: 'SS_SIP_USER_AGENT_PRIVACY', field: 'uaPrivacy', unit: '', origin: manual, kind: 'enum', default: 'ignore',
    options: [{ text: 'Ignore', value: 'ignore' }, { text: 'Id', value: 'id' }, { text: 'None', value: 'none' }],
    description: 'Privacy header of trunk REGISTERs: Ignore = none sent, Id = "id", None = "none"' },

  // ---- Ours ----
  // RFC 3261 §10.3 step 7 lets a registrar answer 423 only for intervals under one hour, hence max 3600.
  int({ name: 'SS_ENDPOINT_MIN_EXPIRE', field: 'endpointMinExpiresS', unit: 's',
    description: 'shortest expiry accepted; a phone asking less gets 423 with Min-Expires' }, ours, 60, 1, 3600),
  int({ name: 'SS_ENDPOINT_MAX_EXPIRE', field: 'endpointMaxExpiresS', unit: 's',
    description: 'longest expiry granted; a phone asking more is granted this' }, ours, 7200, 60, 86400),
  // Spreads re-registrations after a mass restart (REFERENCE.md: staggered expiry against storms).
  int({ name: 'SS_ENDPOINT_EXPIRE_JITTER', field: 'expiresJitterPercent', unit: '%',
    description: 'granted expiry shortened by a random 0..N %, so refreshes spread out; 0 = off' }, ours, 10, 0, 50),
  { name: 'SS_AUTH_ALGORITHMS', field: 'authAlgorithms', unit: '', origin: ours, kind: 'list', default: ['MD5'], options: ['MD5', 'SHA-256'],
    description: 'digest algorithms offered in challenges, in order (RFC 8760); most phones know MD5 only' },
  int({ name: 'SS_AUTH_NONCE_LIFETIME', field: 'nonceLifetimeS', unit: 's',
    description: 'how long a challenge nonce stays valid; older ones get a fresh 401 (stale=true)' }, ours, 300, 10, 3600),
  // 30 s: the shortest UDP NAT mapping timeouts seen in home routers are about 30-60 s (RFC 4787 §4.3
  // asks for at least 2 minutes, many devices do less).
  int({ name: 'SS_ENDPOINT_NAT_KEEPALIVE', field: 'natKeepaliveIntervalS', unit: 's',
    description: 'OPTIONS ping interval to phones behind NAT, keeps their pinhole open; 0 = off' }, ours, 30, 5, 600, true),
  int({ name: 'SS_ENDPOINT_NAT_KEEPALIVE_MISSED', field: 'natKeepaliveMissedMax', unit: 'pings',
    description: 'unanswered pings in a row before a NAT phone is marked unreachable' }, ours, 3, 1, 100),
  onOff({ name: 'SS_ENDPOINT_NAT_KEEPALIVE_REMOVE', field: 'natKeepaliveRemove', unit: '',
    description: 'On: an unreachable NAT phone\'s binding is removed; Off: only marked' }, ours, false),
  // Per-address token bucket. The case to pass is a whole office behind one NAT address re-registering
  // after an outage: 200 phones x 2 requests (REGISTER, 401, REGISTER with credentials) = 400 requests.
  // A bucket of 60 refilled at 20/s lets all 400 through within (400 - 60) / 20 = 17 s even if every
  // phone fired in the same instant; those over the rate get 503 with Retry-After and come back, and
  // phones in practice spread their retries over tens of seconds. Steady state for that office at
  // SS_ENDPOINT_NAT_EXPIRE 300 is 200 x 2 / 300 = 1.3/s, so 20/s is 15x headroom (the manual advises
  // 3-5x). A single brute-force source is still held to 20 guesses/s before the lockout even starts.
  int({ name: 'SS_REGISTER_RATE_PER_IP', field: 'registerRatePerSourcePerS', unit: 'req/s',
    description: 'requests (any method) per second from one source address (token rate); 0 = off' }, ours, 20, 1, 100000, true),
  int({ name: 'SS_REGISTER_BURST_PER_IP', field: 'registerBurstPerSource', unit: 'req',
    description: 'requests one source address may send at once before the rate applies' }, ours, 60, 1, 1000000),
  int({ name: 'SS_REGISTER_RATE_GLOBAL', field: 'registerRateGlobalPerS', unit: 'req/s',
    description: 'requests per second from all sources together; above it a REGISTER gets 503 Retry-After, others are dropped; 0 = off' }, ours, 0, 1, 1000000, true),
  int({ name: 'SS_REGISTER_SCANNER_NUMBERS', field: 'scannerNumbersMax', unit: 'numbers',
    description: 'distinct numbers failing from one address before the whole address is suspended; 0 = off' }, ours, 5, 2, 1000, true),
  // Guessing spread over many sources, each below SS_ENDPOINT_REGISTER_RETRY. 30 an
  // hour is far above a person mistyping a password and far below what guessing needs; the count decays
  // by that many an hour, so a number strangers tripped is free again SS_ENDPOINT_REGISTER_SUSPEND after
  // they stop, and a phone registered from its source is never refused by it.
  int({ name: 'SS_REGISTER_NUMBER_FAILURES', field: 'numberFailuresMax', unit: 'failures',
    description: 'failures of one number from all sources per hour before it is refused from new sources; 0 = off' }, ours, 30, 3, 10000, true),
  onOff({ name: 'SS_REGISTER_LOCKOUT_DROP', field: 'lockoutSilentDrop', unit: '',
    description: 'On: requests from a suspended number/address are dropped silently; Off: answered 403' }, ours, true),
  int({ name: 'SS_OVERLOAD_RETRY_AFTER', field: 'overloadRetryAfterS', unit: 's',
    description: 'base Retry-After of a 503 when rate limited or overloaded (spread randomly above it)' }, ours, 10, 1, 3600),
  int({ name: 'SS_SIP_USER_AGENT_AUTO_EXPIRE', field: 'uaDefaultExpiresS', unit: 's',
    description: 'expiry a trunk in Auto mode asks for; the provider\'s answer is then used' }, ours, 3600, 20, 7200),
  // 30 s for the same reason as SS_ENDPOINT_NAT_KEEPALIVE: the field problem of a trunk that silently
  // stops receiving calls because the NAT pinhole to the provider closed (REFERENCE.md).
  int({ name: 'SS_SIP_USER_AGENT_KEEPALIVE', field: 'uaKeepaliveIntervalS', unit: 's',
    description: 'keepalive interval towards each registered trunk, keeps its NAT pinhole open; 0 = off' }, ours, 30, 5, 600, true),
  int({ name: 'SS_EVENT_RETENTION_DAYS', field: 'eventRetentionDays', unit: 'days',
    description: 'registration history older than this is deleted' }, ours, 30, 1, 3650),
  int({ name: 'SS_EVENT_MAX', field: 'eventCountMax', unit: 'rows',
    description: 'registration history rows kept at most; the oldest go first' }, ours, 1000000, 1000, 100000000),
  // Flash wear: refreshes are answered from memory and their later expiries written together
  // this often, with the periodic writes (heartbeat, counters, samples, keepalive marks). A power cut
  // costs no binding a phone was told about (docs/architecture.md "Group commit and the write-back model"); a longer interval writes less.
  int({ name: 'SS_STORE_FLUSH_INTERVAL', field: 'storeFlushIntervalS', unit: 's',
    description: 'refreshed expiries and periodic records are written to the store together this often' }, ours, 30, 1, 300),
  // Changes share commits: the next one starts at least this long after the previous one started
  // (sooner once registrarLimits.commitBatchEarly changes wait). Alone, a change commits at once. Every
  // commit costs about five LMDB pages of flash whatever it holds (the bindings' leaf and branch, the
  // main and free-page trees, the meta page: ~20 KiB), so 250 ms (at most 4 commits a second) lets
  // new bindings arriving at 10/s share commits two or three at a time (~13 KB each, measured, against
  // ~33 KB at 50 ms); a phone waits at most 250 ms more for its 200, half of SIP's first
  // retransmission (T1, 500 ms).
  int({ name: 'SS_STORE_COMMIT_WINDOW_MS', field: 'storeCommitWindowMs', unit: 'ms',
    description: 'least time between the starts of two commits of changes, so a storm shares them; 0 = off' }, ours, 250, 1, 1000, true),
  // Issue 19: history and samples live within this; bindings, lockouts and trunk state are never pruned
  // and keep a reserve (docs/architecture.md "Store size"). Auto: half the data_dir's file system, at most 1024 MiB
  // (store/limits.ts says why). The minimum holds the reserve and a few thousand history rows.
  int({ name: 'SS_STORE_MAX_MB', field: 'storeMaxMiB', unit: 'MiB',
    description: 'store size limit: history is pruned oldest first to stay within it; 0 = auto (half the data_dir file system, at most 1024)' },
  ours, 0, 4, 1_048_576, true, 'auto'),
];

/** By YAML name. */
export const paramSpecByName: ReadonlyMap<string, ParamSpec> = new Map(paramSpecs.map((spec) => [spec.name, spec]));

/** A parameter's typed value (what a `Params` field holds). */
export type ParamValue = number | boolean | string | 'auto' | readonly string[];

/** The defaults of every parameter, as `Params`. */
export const defaultParams: Params = buildDefaults();

function buildDefaults(): Params {
  const out: Record<string, ParamValue> = {};
  for (const spec of paramSpecs) out[spec.field] = spec.default;
  return out as unknown as Params;
}

export type ParamParse =
  | { readonly value: ParamValue; readonly code: null; readonly message: null }
  | { readonly value: null; readonly code: 'ERR_CONFIG_TYPE' | 'ERR_CONFIG_RANGE' | 'ERR_CONFIG_OPTION'; readonly message: string };

const SWITCH_WORDS: ReadonlyMap<string, boolean> = new Map([
  ['on', true], ['off', false], ['1', true], ['0', false], ['true', true], ['false', false], ['yes', true], ['no', false],
]);

/** Reads a switch from a YAML value: boolean, 1/0, or a word of SWITCH_WORDS in any case. */
export function parseSwitch(input: unknown): boolean | null {
  if (typeof input === 'boolean') return input;
  if (input === 1 || input === 0) return input === 1;
  if (typeof input === 'string') return SWITCH_WORDS.get(input.trim().toLowerCase()) ?? null;
  return null;
}

/** Reads an integer: a YAML integer, or decimal digits given as text (`"3600"`). */
export function parseInteger(input: unknown): number | null {
  if (typeof input === 'number') return Number.isSafeInteger(input) ? input : null;
  if (typeof input === 'string' && /^-?[0-9]{1,15}$/.test(input.trim())) return Number(input.trim());
  return null;
}

/** `30..600` (with `0 (off) or` in front when 0 means off), as etc/sipreg.yaml's comments write it, for
 *  `must be ...` messages. */
export function rangeText(min: number, max: number, zeroOff = false, zeroMeans = 'off'): string {
  return `${zeroOff ? `0 (${zeroMeans}) or ` : ''}${min}..${max}`;
}

/** A value as a message shows it: strings quoted, the rest as YAML would print them. */
export function showValue(input: unknown): string {
  if (typeof input === 'string') {
    const json = JSON.stringify(input);
    return json.length <= 62 ? json : `${json.slice(0, 58)}..."`;
  }
  if (input === null || input === undefined) return 'nothing (null)';
  if (Array.isArray(input)) return 'a list';
  if (typeof input === 'object') return 'a mapping';
  return String(input);
}

function failure(code: 'ERR_CONFIG_TYPE' | 'ERR_CONFIG_RANGE' | 'ERR_CONFIG_OPTION', message: string): ParamParse {
  return { value: null, code, message };
}

/**
 * Checks one parameter's value as read from YAML (a scalar's JS value, or an array of them for a list)
 * against its spec. Independent of YAML nodes so the console can validate an edited value the same way.
 */
export function parseParamValue(spec: ParamSpec, input: unknown): ParamParse {
  switch (spec.kind) {
    case 'int': {
      const n = parseInteger(input);
      if (n === null) return failure('ERR_CONFIG_TYPE', `must be an integer${spec.unit === '' ? '' : ` (${spec.unit})`}. Received ${showValue(input)}`);
      if ((n < spec.min || n > spec.max) && !(spec.zeroOff && n === 0)) {
        return failure('ERR_CONFIG_RANGE', `must be ${rangeText(spec.min, spec.max, spec.zeroOff, spec.zeroMeans)}. Received ${n}`);
      }
      return { value: n, code: null, message: null };
    }
    case 'switch': {
      const b = parseSwitch(input);
      if (b === null) return failure('ERR_CONFIG_OPTION', `must be On or Off (also 1/0, true/false, yes/no). Received ${showValue(input)}`);
      return { value: b, code: null, message: null };
    }
    case 'enum': {
      const word = typeof input === 'string' ? input.trim().toLowerCase() : null;
      const option = spec.options.find((o) => o.text.toLowerCase() === word);
      if (option === undefined) {
        return failure('ERR_CONFIG_OPTION', `must be one of ${spec.options.map((o) => o.text).join(', ')}. Received ${showValue(input)}`);
      }
      return { value: option.value, code: null, message: null };
    }
    case 'expiry': {
      if (typeof input === 'string' && input.trim().toLowerCase() === 'auto') return { value: 'auto', code: null, message: null };
      const n = parseInteger(input);
      if (n === null) return failure('ERR_CONFIG_OPTION', `must be Auto or an integer (s) ${rangeText(spec.min, spec.max)}. Received ${showValue(input)}`);
      if (n < spec.min || n > spec.max) return failure('ERR_CONFIG_RANGE', `must be Auto or ${rangeText(spec.min, spec.max)}. Received ${n}`);
      return { value: n, code: null, message: null };
    }
    case 'list': {
      const items = typeof input === 'string' ? input.split(',').map((s) => s.trim()) : Array.isArray(input) ? input : null;
      const expected = `must be a list of ${spec.options.join(', ')} (or one comma-separated string)`;
      if (items === null) return failure('ERR_CONFIG_TYPE', `${expected}. Received ${showValue(input)}`);
      const out: string[] = [];
      for (const item of items) {
        const canonical = typeof item === 'string' ? spec.options.find((o) => normalizeOption(o) === normalizeOption(item)) : undefined;
        if (canonical === undefined) return failure('ERR_CONFIG_OPTION', `${expected}. Received ${showValue(item)}`);
        if (out.includes(canonical)) return failure('ERR_CONFIG_OPTION', `lists ${canonical} twice`);
        out.push(canonical);
      }
      if (out.length === 0) return failure('ERR_CONFIG_OPTION', `${expected}; at least one`);
      return { value: out, code: null, message: null };
    }
  }
}

/** `sha256`, `SHA-256` and `Sha-256` name the same algorithm. */
function normalizeOption(text: string): string {
  return text.toLowerCase().replace(/-/g, '');
}

/** How a value is written in YAML and shown on screens: `3600`, `On`, `Auto`, `Ignore`, `MD5,SHA-256`. */
export function formatParamValue(spec: ParamSpec, value: ParamValue): string {
  switch (spec.kind) {
    case 'switch': return value === true ? 'On' : 'Off';
    case 'enum': return spec.options.find((o) => o.value === value)?.text ?? String(value);
    case 'expiry': return value === 'auto' ? 'Auto' : String(value);
    case 'list': return Array.isArray(value) ? value.join(',') : String(value);
    case 'int': return String(value);
  }
}

/** The accepted values in words: `20..86400`, `0 (off), 5..600`, `On/Off`, `Ignore/Id/None`. */
export function formatParamRange(spec: ParamSpec): string {
  switch (spec.kind) {
    case 'int': return `${spec.zeroOff ? `0 (${spec.zeroMeans}), ` : ''}${spec.min}..${spec.max}`;
    case 'switch': return 'On/Off';
    case 'enum': return spec.options.map((o) => o.text).join('/');
    case 'expiry': return `Auto, ${spec.min}..${spec.max}`;
    case 'list': return spec.options.join(', ');
  }
}

/** A relation between parameters that does not hold; `name` is the parameter to blame. */
export interface ParamRelationProblem {
  readonly name: string;
  readonly others: readonly string[]; // the other parameters involved, to find one the file sets
  readonly message: string;
}

/** Relations checked at load, after each value passed its own range. */
export function checkParamRelations(p: Params): ParamRelationProblem[] {
  const out: ParamRelationProblem[] = [];
  const within = (name: string, value: number): void => {
    if (value < p.endpointMinExpiresS || value > p.endpointMaxExpiresS) {
      out.push({ name, others: ['SS_ENDPOINT_MIN_EXPIRE', 'SS_ENDPOINT_MAX_EXPIRE'],
        message: `must be within SS_ENDPOINT_MIN_EXPIRE..SS_ENDPOINT_MAX_EXPIRE (${p.endpointMinExpiresS}..${p.endpointMaxExpiresS}). Received ${value}` });
    }
  };
  if (p.endpointMinExpiresS > p.endpointMaxExpiresS) {
    out.push({ name: 'SS_ENDPOINT_MIN_EXPIRE', others: ['SS_ENDPOINT_MAX_EXPIRE'],
      message: `must be <= SS_ENDPOINT_MAX_EXPIRE (${p.endpointMaxExpiresS}). Received ${p.endpointMinExpiresS}` });
  } else {
    within('SS_ENDPOINT_EXPIRE', p.endpointExpiresS);
    within('SS_ENDPOINT_NAT_EXPIRE', p.endpointNatExpiresS);
  }
  // A bucket smaller than one second of refill would make the per-second rate unreachable.
  if (p.registerRatePerSourcePerS > 0 && p.registerBurstPerSource < p.registerRatePerSourcePerS) {
    out.push({ name: 'SS_REGISTER_BURST_PER_IP', others: ['SS_REGISTER_RATE_PER_IP'],
      message: `must be >= SS_REGISTER_RATE_PER_IP (${p.registerRatePerSourcePerS}) while that is on. Received ${p.registerBurstPerSource}` });
  }
  // A global rate below the per-address one would let one address starve everyone else.
  if (p.registerRateGlobalPerS > 0 && p.registerRatePerSourcePerS > 0 && p.registerRateGlobalPerS < p.registerRatePerSourcePerS) {
    out.push({ name: 'SS_REGISTER_RATE_GLOBAL', others: ['SS_REGISTER_RATE_PER_IP'],
      message: `must be 0 (off) or >= SS_REGISTER_RATE_PER_IP (${p.registerRatePerSourcePerS}). Received ${p.registerRateGlobalPerS}` });
  }
  // A keepalive that cannot fire before the NAT binding expires protects nothing.
  if (p.natKeepaliveIntervalS > 0 && p.natKeepaliveIntervalS >= p.endpointNatExpiresS) {
    out.push({ name: 'SS_ENDPOINT_NAT_KEEPALIVE', others: ['SS_ENDPOINT_NAT_EXPIRE'],
      message: `must be 0 (off) or < SS_ENDPOINT_NAT_EXPIRE (${p.endpointNatExpiresS}). Received ${p.natKeepaliveIntervalS}` });
  }
  return out;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** README's parameter table, GitHub markdown. */
export function renderParamsMarkdown(): string {
  const lines = [
    '| parameter | default | range / options | unit | meaning | from |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const spec of paramSpecs) {
    lines.push(`| \`${spec.name}\` | ${escapeCell(formatParamValue(spec, spec.default))} | ${escapeCell(formatParamRange(spec))} | ` +
      `${spec.unit} | ${escapeCell(spec.description)} | ${spec.origin === 'manual' ? 'manual' : 'sipreg'} |`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The values in force, one parameter a line, for the console and the CLI: name, value with its unit
 * (`*` when it differs from the default), default, accepted range. Fits `widthCols` (80 by default);
 * with `descriptions`, each line is followed by its description, indented and word-wrapped.
 */
export function renderParamsListing(params: Params, options: { widthCols?: number; descriptions?: boolean } = {}): string {
  const widthCols = options.widthCols ?? 80;
  const nameCols = Math.max(...paramSpecs.map((s) => s.name.length)) + 1; // 34
  const valueCols = 16;   // "1000000 events *"
  const defaultCols = 8;  // "1000000"
  const cut = (text: string, cols: number): string => (text.length <= cols ? text : `${text.slice(0, Math.max(cols - 1, 0))}~`);
  const pad = (text: string, cols: number): string => cut(text, cols).padEnd(cols);
  const lines = [cut(`${pad('PARAMETER', nameCols)} ${pad('VALUE', valueCols)} ${pad('DEFAULT', defaultCols)} RANGE`, widthCols).trimEnd()];
  const values = params as unknown as Record<string, ParamValue>;
  for (const spec of paramSpecs) {
    const value = values[spec.field] ?? spec.default;
    const valueText = formatParamValue(spec, value);
    const defaultText = formatParamValue(spec, spec.default);
    const unit = spec.unit !== '' && /^[0-9]+$/.test(valueText) ? ` ${spec.unit}` : '';
    const shown = `${valueText}${unit}${valueText === defaultText ? '' : ' *'}`;
    const line = `${pad(spec.name, nameCols)} ${pad(shown, valueCols)} ${pad(defaultText, defaultCols)} ${formatParamRange(spec)}`;
    lines.push(cut(line, widthCols).trimEnd());
    if (options.descriptions === true) lines.push(...wrap(spec.description, widthCols - 4).map((l) => `    ${l}`));
  }
  return `${lines.join('\n')}\n`;
}

function wrap(text: string, widthCols: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > widthCols) { out.push(line); line = word; }
    else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') out.push(line);
  return out;
}

/** The privacy and algorithm types, re-exported for callers that map them. */
export type { DigestAlgorithm, Privacy };
