/**
 * What the store keeps, one interface per named database. Times are absolute epoch milliseconds so
 * that expiry continues across restarts (RFC 3261 §10.3 bindings outlive the process).
 */

/** One contact binding of one number (AOR), as the object API gives it; stored as bytes (binding-codec.ts) in `aors` under the number. */
export interface BindingRecord {
  number: string;          // AOR user part; the account number
  aor: string;             // "sip:1001@example.com" as registered (To URI)
  contactKey: string;      // identity of the contact: +sip.instance (with reg-id) if given, else the Contact URI
  contact: string;         // Contact URI as sent by the phone
  instance: string | null; // +sip.instance (RFC 5626) when present
  source: string;          // "ip:port" the REGISTER came from ("[v6]:port" for IPv6)
  sourceAddress: string;   // ip of source, for filters
  sourcePort: number;
  localAddress: string;    // listen socket "ip:port" that received it: keepalives and requests leave from it
  expiresS: number;        // granted expiry
  expiresAtMs: number;
  registeredAtMs: number;  // first registration of this contact
  refreshedAtMs: number;   // last successful REGISTER
  userAgent: string;
  account: string;         // owning customer
  nat: boolean;
  callId: string;
  cseq: number;
  q: number | null;
  /** NAT keepalive state (registrar/keepalive). */
  keepalive: { lastSentAtMs: number; lastAnsweredAtMs: number; missed: number; unreachable: boolean } | null;
}

export type EventType =
  | 'registered' | 'refreshed' | 'unregistered' | 'expired' | 'force_unregistered' | 'replaced'
  | 'rejected' | 'auth_failed' | 'locked_out' | 'unlocked' | 'unreachable'
  | 'trunk_registered' | 'trunk_failed' | 'trunk_unregistered' | 'trunk_alert'
  | 'alert' | 'config_reloaded' | 'config_refused' | 'service_started' | 'service_stopped'
  | 'store_full' | 'store_space_back';

/** Every event type, in the order their one-byte codes follow (append only: the codes are stored). */
export const EVENT_TYPES: readonly EventType[] = [
  'registered', 'refreshed', 'unregistered', 'expired', 'force_unregistered', 'replaced',
  'rejected', 'auth_failed', 'locked_out', 'unlocked', 'unreachable',
  'trunk_registered', 'trunk_failed', 'trunk_unregistered', 'trunk_alert',
  'alert', 'config_reloaded', 'config_refused', 'service_started', 'service_stopped',
  'store_full', 'store_space_back',
];

/** History row, as queryEvents gives it; stored as bytes (events.ts) in `history`, the rows of one commit in one value keyed [atMs, pid, seq]. */
export interface EventRecord {
  atMs: number;
  type: EventType;
  number: string;          // '' when not about one number
  source: string;          // "ip:port" or ''
  userAgent: string;
  detail: string;          // human sentence: reason, code, rule
}

/** A suspension. Key in `lockouts`: "addr:<ip>" for a whole address, "pair:<number>@<ip>" for a number from an address,
 *  "number:<number>" for a held number (kick-and-hold). */
export interface LockoutRecord {
  key: string;
  kind: 'address' | 'pair' | 'number';
  address: string;         // '' for kind number
  number: string;          // '' for kind address
  untilMs: number;
  createdAtMs: number;
  failures: number;
  reason: string;
}

export type TrunkStateName = 'registered' | 'registering' | 'failed' | 'retry_wait' | 'unregistered' | 'disabled';

/** Outbound registration state. Key in `trunks`: trunk name. */
export interface TrunkStateRecord {
  name: string;
  state: TrunkStateName;
  lastStatus: number | null;
  lastReason: string;
  grantedExpiresS: number | null;
  lastSuccessAtMs: number | null;
  failureCount: number;
  nextActionAtMs: number | null;
  registrar: string;       // "host:port" resolved target
  contact: string;         // Contact we registered
  updatedAtMs: number;
  /** Credential failures in a row (CREDENTIAL_ALERT_COUNT of them is an active alert); absent in older records. */
  credentialFailures?: number;
  /** Since when an enabled trunk is not registered (null: registered, disabled or stopped); absent in older records. */
  downSinceMs?: number | null;
}

/** Per-minute sample. Key in `samples`: minute start (epoch ms). */
export interface SampleRecord {
  atMs: number;
  registered: number;      // bindings at sample time
  nat: number;
  registers: number;       // REGISTER requests during the minute
  accepted: number;        // 200 OK answers
  authFailures: number;
  rejected: number;
  processingUsTotal: number; // sum of REGISTER processing times (µs), / accepted+rejected = average
  processed: number;
}

/** Liveness of the service, for the console's status line. Key in `meta`: "service". */
export interface ServiceRecord {
  pid: number;
  host: string;
  startedAtMs: number;
  heartbeatAtMs: number;
  configFile: string;
  version: string;
  /** How often the heartbeat is written (the flush interval); absent in records of older versions. */
  beatIntervalMs?: number;
}

/** An operator request the service carries out (it polls `commands`). Key: [atMs, pid, seq]. */
export interface CommandRecord {
  atMs: number;
  type: 'reload' | 'trunk_reregister' | 'flush';
  arg: string;
}
