/**
 * A store with registrations in it, for the CLI and console tests. `Seeder` is the seam: today the
 * bindings are written through the store helpers; at integration time a seeder that registers phones
 * with SIPp through the running service can stand in, as long as it reports the same SeedInfo.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendEvent, minuteOf, openStore, putBinding, putSample, type BindingRecord, type EventRecord, type Store,
} from '../../src/store/index.js';

export interface SeedInfo {
  /** The numbers registered, with their User-Agent device type and source address. */
  readonly numbers: readonly { number: string; deviceType: string; sourceAddress: string; account: string }[];
}

export type Seeder = (dataDir: string, nowMs: number) => Promise<SeedInfo>;

export function binding(number: string, over: Partial<BindingRecord> = {}): BindingRecord {
  const nowMs = Date.now();
  const sourceAddress = over.sourceAddress ?? '192.0.2.10';
  const sourcePort = over.sourcePort ?? 5062;
  return {
    number, aor: `sip:${number}@test`, contactKey: `sip:${number}@${sourceAddress}:${sourcePort}`,
    contact: `sip:${number}@${sourceAddress}:${sourcePort}`, instance: null,
    source: sourceAddress.includes(':') ? `[${sourceAddress}]:${sourcePort}` : `${sourceAddress}:${sourcePort}`,
    sourceAddress, sourcePort, localAddress: '127.0.0.1:15999', expiresS: 3600, expiresAtMs: nowMs + 3_000_000,
    registeredAtMs: nowMs - 600_000, refreshedAtMs: nowMs - 60_000, userAgent: 'Yealink SIP-T46S 66.86.0.15',
    account: 'Cust_A', nat: false, callId: `call-${number}@phone`, cseq: 7, q: null, keepalive: null, ...over,
  };
}

/** Seven bindings of six numbers: two accounts, three device types, a NAT phone, one expiring, one expired. */
export const storeSeeder: Seeder = async (dataDir, nowMs) => {
  const store = openStore(dataDir);
  try {
    const bs: BindingRecord[] = [
      binding('1001', { sourceAddress: '10.1.2.10', userAgent: 'Yealink SIP-T46S 66.86.0.15' }),
      binding('1002', { sourceAddress: '10.1.2.11', userAgent: 'Yealink SIP-T46S 66.86.0.20', account: 'Cust_A' }),
      binding('1003', { sourceAddress: '198.51.100.7', sourcePort: 40000, userAgent: 'Grandstream GXP2170 1.0.11.3', account: 'Cust_B', nat: true,
        contact: 'sip:1003@192.168.1.50:5060', contactKey: 'sip:1003@192.168.1.50:5060' }),
      binding('1004', { sourceAddress: '198.51.100.8', userAgent: 'Linphone/4.4.0 (belle-sip/4.4.0)', account: 'Cust_B', expiresS: 600, expiresAtMs: nowMs + 30_000 }),
      binding('1005', { sourceAddress: '203.0.113.5', userAgent: 'Grandstream GXP2170 1.0.11.5', account: 'Cust_B', expiresAtMs: nowMs - 5_000 }),
      binding('2001', { sourceAddress: '2001:db8:1:2::5', userAgent: 'Yealink SIP-T46S 66.86.0.15', account: 'Cust_C' }),
      binding('2001', { sourceAddress: '2001:db8:1:2::6', userAgent: 'Yealink SIP-T46S 66.86.0.15', account: 'Cust_C' }),
    ];
    await Promise.all(bs.map((b) => putBinding(store, b, undefined)));
    const ev = (atMs: number, type: EventRecord['type'], number: string, detail: string, source = '198.51.100.99:5060'): Promise<boolean> =>
      appendEvent(store, { atMs, type, number, source, userAgent: 'Yealink SIP-T46S 66.86.0.15', detail });
    await Promise.all([
      ev(nowMs - 300_000, 'registered', '1001', '200 OK, expires 3600', '10.1.2.10:5062'),
      ev(nowMs - 200_000, 'auth_failed', '1009', '401 wrong password (digest response does not match)'),
      ev(nowMs - 100_000, 'rejected', '1009', '403 address not allowed: 198.51.100.99 is outside accounts[1009].allow'),
      ev(nowMs - 50_000, 'locked_out', '1009', 'suspended 180 s after 6 failed authentications (SS_ENDPOINT_REGISTER_RETRY)'),
      ev(nowMs - 40_000, 'refreshed', '1001', '200 OK, expires 3600', '10.1.2.10:5062'),
    ]);
    await store.lockouts.put('pair:1009@198.51.100.99', {
      key: 'pair:1009@198.51.100.99', kind: 'pair', address: '198.51.100.99', number: '1009', untilMs: nowMs + 170_000,
      createdAtMs: nowMs - 10_000, failures: 6, reason: 'SS_ENDPOINT_REGISTER_RETRY exceeded',
    });
    for (let i = 60; i >= 1; i--) {
      await putSample(store, { atMs: minuteOf(nowMs) - i * 60_000, registered: 5 + (i % 3), nat: 1, registers: 12, accepted: 10, authFailures: 1, rejected: 1, processingUsTotal: 1200, processed: 12 });
    }
  } finally {
    await store.close();
  }
  return {
    numbers: [
      { number: '1001', deviceType: 'Yealink SIP-T46S', sourceAddress: '10.1.2.10', account: 'Cust_A' },
      { number: '1002', deviceType: 'Yealink SIP-T46S', sourceAddress: '10.1.2.11', account: 'Cust_A' },
      { number: '1003', deviceType: 'Grandstream GXP2170', sourceAddress: '198.51.100.7', account: 'Cust_B' },
      { number: '1004', deviceType: 'Linphone', sourceAddress: '198.51.100.8', account: 'Cust_B' },
      { number: '1005', deviceType: 'Grandstream GXP2170', sourceAddress: '203.0.113.5', account: 'Cust_B' },
      { number: '2001', deviceType: 'Yealink SIP-T46S', sourceAddress: '2001:db8:1:2::5', account: 'Cust_C' },
    ],
  };
};

/** A temporary data dir and a minimal config file (CONTRACT.md's YAML) pointing at it. */
export function makeEnv(prefix: string): { dir: string; dataDir: string; configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), `sipreg-${prefix}-`));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'sipreg.yaml');
  writeFileSync(configFile, [
    'sip: {listen: ["127.0.0.1:15999"], realm: test}',
    `data_dir: ${JSON.stringify(dataDir)}`,
    'accounts:',
    '  - {number: "1001", password: "x", account: "Cust_A"}',
    '  - {number: "1002", password: "x", account: "Cust_A"}',
    '  - {number: "1003", password: "x", account: "Cust_B"}',
    'trunks:',
    '  - {name: carrier-a, registrar: "127.0.0.1", username: "4420", password: "p"}',
    '  - {name: carrier-b, registrar: "127.0.0.1", username: "4421", password: "p", enabled: false}',
    'areas:',
    '  - {name: "Head office", prefixes: ["10.1.0.0/16"]}',
    '',
  ].join('\n'));
  return { dir, dataDir, configFile };
}

export async function withOpenStore<T>(dataDir: string, fn: (s: Store) => Promise<T> | T): Promise<T> {
  const s = openStore(dataDir);
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}
