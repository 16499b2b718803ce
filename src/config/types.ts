/**
 * The typed configuration every other folder reads. `config/` builds it from the YAML file once per
 * load (start-up and SIGHUP) and nothing else parses YAML. Units are in the names.
 */

import type { Cidr } from '../net/cidr.js';
import type { ListenAddress } from '../sip/listen.js';
export type { Cidr } from '../net/cidr.js';
export type { ListenAddress } from '../sip/listen.js';

/** An `allow` entry: a range, optionally a fixed source port (`203.0.113.7:5062`, for auth_mode ip_port). */
export interface AllowEntry {
  readonly cidr: Cidr;
  readonly port: number | null;
}

export type AuthMode = 'password' | 'ip' | 'ip_port' | 'ip_password';
export type Privacy = 'ignore' | 'id' | 'none';
export type DigestAlgorithm = 'MD5' | 'SHA-256';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface Account {
  readonly number: string;         // SIP user and digest username
  readonly account: string;        // owning customer ('' when not given)
  readonly authMode: AuthMode;
  /** Lower-case hex HA1 = H(number:realm:password) per algorithm; null when it cannot be computed
   *  (an `ha1` given without the password gives MD5 only). Passwords are never kept. */
  readonly ha1: { readonly md5: string | null; readonly sha256: string | null };
  readonly allow: readonly AllowEntry[];  // empty: any source
  readonly expiresS: number | null;       // per-phone registration expiry, overrides SS_ENDPOINT_EXPIRE
}

export interface Trunk {
  readonly name: string;
  readonly registrar: string;      // host name or IP literal (no brackets)
  readonly port: number | null;    // null: not given (SRV lookup allowed, else 5060)
  readonly proxy: { readonly host: string; readonly port: number | null } | null;
  readonly username: string;
  readonly authUser: string;       // defaults to username
  readonly password: string;       // needed to answer challenges; never logged
  readonly expiresS: number | 'auto' | null; // null: use SS_SIP_USER_AGENT_EXPIRE
  readonly enabled: boolean;
  readonly domain: string;         // From/To domain; defaults to registrar
  readonly allowMd5WithoutQop: boolean; // answer an MD5 challenge without qop (RFC 2069 form, replayable)
}

export interface Area {
  readonly name: string;
  readonly prefixes: readonly Cidr[];
}

/** Every SS_* parameter, mapped once to a name with its unit (config/params.ts holds the table). */
export interface Params {
  // Operators' manual (REFERENCE.md)
  readonly endpointExpiresS: number;            // SS_ENDPOINT_EXPIRE
  readonly endpointNatExpiresS: number;         // SS_ENDPOINT_NAT_EXPIRE
  readonly registerRetryCount: number;          // SS_ENDPOINT_REGISTER_RETRY (0 = no lockout)
  readonly registerSuspendS: number;            // SS_ENDPOINT_REGISTER_SUSPEND
  readonly registerReplace: boolean;            // SS_ENDPOINT_REGISTER_REPLACE
  readonly bindingsPerAorMax: number;           // SERVER_REGISTRAR_MAX_BINDINGS
  readonly uaExpiresS: number | 'auto';         // SS_SIP_USER_AGENT_EXPIRE
  readonly uaRetryDelayS: number;               // SS_SIP_USER_AGENT_RETRY_DELAY
  readonly uaSendUnregister: boolean;           // SS_SIP_USER_AGENT_SEND_UNREGISTER
  readonly uaPrivacy: Privacy;                  // SS_SIP_USER_AGENT_PRIVACY
  // Ours (README's parameter table says which)
  readonly endpointMinExpiresS: number;         // SS_ENDPOINT_MIN_EXPIRE: below -> 423 Min-Expires
  readonly endpointMaxExpiresS: number;         // SS_ENDPOINT_MAX_EXPIRE: above -> clamped
  readonly expiresJitterPercent: number;        // SS_ENDPOINT_EXPIRE_JITTER: granted expiry spread, 0 = off
  readonly authAlgorithms: readonly DigestAlgorithm[]; // SS_AUTH_ALGORITHMS: "MD5" | "MD5,SHA-256" | "SHA-256,MD5"
  readonly nonceLifetimeS: number;              // SS_AUTH_NONCE_LIFETIME
  readonly natKeepaliveIntervalS: number;       // SS_ENDPOINT_NAT_KEEPALIVE: OPTIONS interval, 0 = off
  readonly natKeepaliveMissedMax: number;       // SS_ENDPOINT_NAT_KEEPALIVE_MISSED: unanswered pings -> unreachable
  readonly natKeepaliveRemove: boolean;         // SS_ENDPOINT_NAT_KEEPALIVE_REMOVE: remove unreachable bindings
  readonly registerRatePerSourcePerS: number;   // SS_REGISTER_RATE_PER_IP: token rate, 0 = off
  readonly registerBurstPerSource: number;      // SS_REGISTER_BURST_PER_IP: bucket size
  readonly registerRateGlobalPerS: number;      // SS_REGISTER_RATE_GLOBAL: all sources, 0 = off
  readonly scannerNumbersMax: number;           // SS_REGISTER_SCANNER_NUMBERS: distinct failing numbers before a whole address is suspended
  readonly numberFailuresMax: number;           // SS_REGISTER_NUMBER_FAILURES: failures of one number from all sources an hour before it is suspended for new sources (0 = off)
  readonly lockoutSilentDrop: boolean;          // SS_REGISTER_LOCKOUT_DROP: On = drop suspended requests silently, Off = 403
  readonly overloadRetryAfterS: number;         // SS_OVERLOAD_RETRY_AFTER: base Retry-After of a 503 when overloaded
  readonly uaDefaultExpiresS: number;           // SS_SIP_USER_AGENT_AUTO_EXPIRE: what Auto asks for
  readonly uaKeepaliveIntervalS: number;        // SS_SIP_USER_AGENT_KEEPALIVE: trunk pinhole keepalive, 0 = off
  readonly eventRetentionDays: number;          // SS_EVENT_RETENTION_DAYS
  readonly eventCountMax: number;               // SS_EVENT_MAX: history rows kept at most
  readonly storeFlushIntervalS: number;         // SS_STORE_FLUSH_INTERVAL: write-back of refreshes and periodic writes
  readonly storeCommitWindowMs: number;         // SS_STORE_COMMIT_WINDOW_MS: least spacing of change commits, 0 = off
  readonly storeMaxMiB: number;                // SS_STORE_MAX_MB: store size limit, 0 = auto
}

export interface Config {
  readonly file: string;           // absolute path it was read from
  readonly sip: {
    readonly listen: readonly ListenAddress[];
    readonly realm: string;
    readonly domains: readonly string[];  // lower-case; empty: any
    readonly userAgent: string;           // Server/User-Agent header we send; default "sipreg/<version>"
  };
  readonly acl: { readonly allow: readonly Cidr[]; readonly deny: readonly Cidr[] }; // static lists; empty allow = any
  readonly dataDir: string;        // absolute
  readonly logLevel: LogLevel;
  readonly metricsTextfile: string | null; // Prometheus textfile path, null = off
  readonly params: Params;
  readonly accounts: readonly Account[];
  readonly trunks: readonly Trunk[];
  readonly areas: readonly Area[];
  /** Read for an admin command or the console without its accounts (load.ts, parseConfigTextForReading):
   *  `accounts` is empty, not the file's. */
  readonly accountsOmitted?: true;
}
