// The registrar in-process, shared by test/registrar/alloc.test.ts and bench/registrar/heap.ts: parse →
// transaction cache → registrar (digest with nonce-count, bindings policy over LMDB, group commit, the
// service's flush) → 200 written, with `numbers` password accounts challenged once each. The transport is
// a stand-in that hands out slots and "sends" by releasing them, so Node's own per-datagram Buffer/rinfo
// and SendWrap are excluded. The datagrams (authenticated refreshes, nonce-count 1, 2, ...) are made
// before anything is measured.
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/index.js';
import { limits } from '../../src/limits.js';
import type { Config } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { StoreFlush, openStore, type Store } from '../../src/store/index.js';
import {
  DigestParams, ServerTransactions, SipMessage, buildAuthorization, challengeFrom, parse, parseDigest,
  type ResponseSlot, type SipTransport,
} from '../../src/sip/index.js';
import { Registrar } from '../../src/registrar/registrar.js';
import { loadNonceSecret } from '../../src/registrar/nonce.js';
import type { Guard } from '../../src/registrar/guard-types.js';

const guard: Guard = { checkSource: () => 'ok', checkNumber: () => 'ok', authFailed: () => false, authSucceeded: () => {}, reload: () => {} };

/** Slots that are "sent" at once: the last response of each slot can be read back (for the 401s). */
class FakeTransport {
  readonly slots: ResponseSlot[] = [];
  private readonly free: ResponseSlot[] = [];
  last = '';
  keepLast = false;
  constructor(n: number) {
    for (let i = 0; i < n; i++) { const s = { index: i, buf: Buffer.alloc(limits.responseSizeMax) }; this.slots.push(s); this.free.push(s); }
  }
  readonly counters = { sendDropsNoSlot: 0 };
  get freeSlotCount(): number { return this.free.length; }
  acquire(): ResponseSlot | null { return this.free.pop() ?? null; }
  releaseUnsent(slot: ResponseSlot): void { this.free.push(slot); }
  send(slot: ResponseSlot, length: number): void {
    if (this.keepLast) this.last = slot.buf.toString('latin1', 0, length);
    this.free.push(slot);
  }
  localAddress(): { address: string; port: number; family: string } { return { address: '127.0.0.1', port: 5060, family: 'IPv4' }; }
}

function registerText(n: string, i: number, authorization: string | null): string {
  return `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK${n}x${i};rport\r\nMax-Forwards: 70\r\n` +
    `From: <sip:${n}@127.0.0.1>;tag=t${n}\r\nTo: <sip:${n}@127.0.0.1>\r\nCall-ID: c${n}@bench\r\nCSeq: ${i + 1} REGISTER\r\n` +
    `Contact: <sip:${n}@127.0.0.1:5070>\r\nExpires: 3600\r\n` + (authorization === null ? '' : `Authorization: ${authorization}\r\n`) +
    `User-Agent: bench\r\nContent-Length: 0\r\n\r\n`;
}

export interface InProcessRegistrar {
  readonly store: Store;
  /** REGISTERs [from, to) of the prepared datagrams, in runs of 500 each followed by registrar.idle(). */
  run(from: number, to: number): Promise<void>;
  close(): Promise<void>;
}

/** A registrar over a fresh store in `dir` with `count` authenticated REGISTERs ready (numbers 300000..). */
export async function inProcessRegistrar(dir: string, numbers: number, count: number): Promise<InProcessRegistrar> {
  const yaml = ['sip:', '  listen: ["127.0.0.1:5060"]', `data_dir: ${join(dir, 'data')}`, 'log_level: silent', 'accounts:'];
  for (let i = 0; i < numbers; i++) yaml.push(`  - { number: "${300000 + i}", password: "pw${i}" }`);
  const loaded = parseConfigText(yaml.join('\n') + '\n', join(dir, 'sipreg.yaml'));
  if (loaded.config === null) throw new Error(JSON.stringify(loaded.problems));
  const config: Config = loaded.config;
  const store = openStore(config.dataDir);
  const transport = new FakeTransport(20_000);
  const transactions = new ServerTransactions();
  // The service's flush, started as the service starts it: refreshes are answered from memory.
  const writes = new StoreFlush(store, config.params.storeFlushIntervalS);
  await writes.start();
  const registrar = new Registrar({
    store, writes, log: createLogger('silent'), config: () => config, guard, transport: transport as unknown as SipTransport, transactions,
    nonceSecret: loadNonceSecret(store),
  });
  const msg = new SipMessage();
  const source = { address: '127.0.0.1', port: 5070 };
  const deliver = (buf: Buffer): void => {
    if (parse(msg, buf) !== null) throw new Error('parse');
    const state = transactions.receive(msg, source, Date.now());
    registrar.handle(msg, source, 0, state === 'new' ? transactions.handle : -1);
  };

  // One challenge per number, then `count` REGISTERs answering it with nc 1, 2, ...
  const challenges: ReturnType<typeof challengeFrom>[] = [];
  transport.keepLast = true;
  for (let i = 0; i < numbers; i++) {
    deliver(Buffer.from(registerText(String(300000 + i), 0, null)));
    const line = /WWW-Authenticate: (.*)\r\n/.exec(transport.last)![1]!;
    const params = new DigestParams();
    const b = Buffer.from(line);
    parseDigest(params, b, 0, b.length);
    challenges.push(challengeFrom(params));
  }
  transport.keepLast = false;
  const datagrams: Buffer[] = [];
  for (let k = 0; k < count; k++) {
    const i = k % numbers;
    const n = String(300000 + i);
    const nc = Math.floor(k / numbers) + 1;
    const authorization = buildAuthorization(challenges[i]!, { username: n, password: `pw${i}`, method: 'REGISTER', uri: 'sip:127.0.0.1', cnonce: 'abcdef0123456789', nc });
    datagrams.push(Buffer.from(registerText(n, k + 1, authorization)));
  }
  return {
    store,
    async run(from, to) {
      for (let k = from; k < to; k += 500) {
        for (let j = k; j < Math.min(to, k + 500); j++) deliver(datagrams[j]!);
        await registrar.idle();
      }
    },
    async close() { await store.close(); },
  };
}
