// Shared builders for the registrar's unit tests: a Params with defaults, an Account, a binding.
import { defaultParams } from '../../src/config/index.js';
import type { Account, Params } from '../../src/config/types.js';
import type { BindingRecord } from '../../src/store/index.js';

export function params(over: Partial<Params> = {}): Params {
  return { ...defaultParams, expiresJitterPercent: 0, ...over };
}

export function account(number: string, over: Partial<Account> = {}): Account {
  return { number, account: 'Customer_A', authMode: 'password', ha1: { md5: null, sha256: null }, allow: [], expiresS: null, ...over };
}

export function binding(number: string, contact: string, over: Partial<BindingRecord> = {}): BindingRecord {
  return {
    number, aor: `sip:${number}@example.com`, contactKey: contact, contact, instance: null,
    source: '127.0.0.1:5062', sourceAddress: '127.0.0.1', sourcePort: 5062, localAddress: '127.0.0.1:5060',
    expiresS: 600, expiresAtMs: 1_000_000 + 600_000, registeredAtMs: 1_000_000, refreshedAtMs: 1_000_000,
    userAgent: 'ua', account: 'Customer_A', nat: false, callId: 'call-1', cseq: 1, q: null, keepalive: null, ...over,
  };
}
