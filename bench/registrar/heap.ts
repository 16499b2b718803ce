// Heap allocated per REGISTER (issue 3: at most 1 KiB now, 256 B the aim), measured in-process over
// 100,000 authenticated REGISTERs: parse → transaction cache → registrar (digest with nonce-count,
// bindings policy over LMDB, group commit) → 200 written. The transport is a stand-in that hands out
// slots and "sends" by releasing them, so Node's own per-datagram Buffer/rinfo and SendWrap (the floor
// STYLE.md accepts) are excluded. Allocation is summed from V8's GC profiler: bytes freed by each GC
// plus the growth after the last one. Also reports CPU time per REGISTER.
// The machine is shared and noisy: the measurement runs `--runs` times (default 3), each in a fresh
// process, and the medians are reported with every run's figures.
//   node --expose-gc bench/registrar/heap.ts [--count 100000] [--numbers 1000] [--runs 3]
import { GCProfiler } from 'node:v8';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/index.js';
import { limits } from '../../src/limits.js';
import type { Config } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { StoreFlush, openStore } from '../../src/store/index.js';
import {
  DigestParams, ServerTransactions, SipMessage, buildAuthorization, challengeFrom, parse, parseDigest,
  type ResponseSlot, type SipTransport,
} from '../../src/sip/index.js';
import { Registrar } from '../../src/registrar/registrar.js';
import { loadNonceSecret } from '../../src/registrar/nonce.js';
import type { Guard } from '../../src/registrar/guard-types.js';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg, median, tempDir, writeResult } from './common.js';

const count = Number(arg('count', '100000'));
const numbers = Number(arg('numbers', '1000'));
const runs = Number(arg('runs', '3'));
const once = process.argv.includes('--once');
const maybeGc = (globalThis as { gc?: () => void }).gc;
if (maybeGc === undefined) throw new Error('run with node --expose-gc');
const gc: () => void = maybeGc;

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

async function main(): Promise<Run> {
  const dir = tempDir('sipreg-heap-');
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

  // One challenge per number (outside the measurement), then `count` REGISTERs answering it with nc 1, 2, ...
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
  const runOnce = async (from: number, to: number): Promise<void> => {
    for (let k = from; k < to; k += 500) {
      for (let j = k; j < Math.min(to, k + 500); j++) deliver(datagrams[j]!);
      await registrar.idle();
    }
  };
  // Warm-up (JIT, caches), not measured.
  const warm = Math.min(10_000, Math.floor(count / 10));
  await runOnce(0, warm);
  gc();
  gc();
  const accepted0 = (await import('../../src/stats/counters.js')).counters.registersAccepted;
  // SIPREG_HEAP_PROFILE=file.heapprofile: where the bytes go (sampling, collected objects included).
  const profileFile = process.env['SIPREG_HEAP_PROFILE'];
  const inspector = profileFile === undefined ? null : new (await import('node:inspector')).Session();
  const post = (method: string, params: object = {}): Promise<any> => new Promise((resolve, reject) =>
    inspector!.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  if (inspector !== null) {
    inspector.connect();
    await post('HeapProfiler.startSampling', { samplingInterval: 256, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
  }
  const profiler = new GCProfiler();
  const heapBefore = process.memoryUsage().heapUsed;
  profiler.start();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runOnce(warm, count);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const heapAfter = process.memoryUsage().heapUsed;
  const report = profiler.stop();
  if (inspector !== null) {
    const { profile } = await post('HeapProfiler.stopSampling');
    (await import('node:fs')).writeFileSync(profileFile!, JSON.stringify(profile));
    inspector.disconnect();
  }
  let allocated = 0;
  let previousAfter = heapBefore;
  for (const s of report.statistics) {
    const before = s.beforeGC.heapStatistics.usedHeapSize;
    const after = s.afterGC.heapStatistics.usedHeapSize;
    allocated += Math.max(0, before - previousAfter);
    previousAfter = after;
  }
  allocated += Math.max(0, heapAfter - previousAfter);
  const measured = count - warm;
  const accepted = (await import('../../src/stats/counters.js')).counters.registersAccepted - accepted0;
  gc();
  const run: Run = {
    registers: measured, accepted,
    heapBytesPerRegister: Math.round(allocated / measured),
    cpuMicrosPerRegister: Math.round((cpu.user + cpu.system) / measured),
    registersPerSecondOneThread: Math.round(measured / (wallMs / 1000)),
    gcCount: report.statistics.length,
    heapUsedAfterMiB: Math.round(process.memoryUsage().heapUsed / 1048576 * 10) / 10,
  };
  await store.close();
  return run;
}

interface Run {
  registers: number; accepted: number; heapBytesPerRegister: number; cpuMicrosPerRegister: number;
  registersPerSecondOneThread: number; gcCount: number; heapUsedAfterMiB: number;
}

if (once) {
  process.stdout.write(JSON.stringify(await main()) + '\n');
} else {
  const all: Run[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2), '--once'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    if (r.status !== 0) throw new Error(`run ${i + 1} failed (exit ${r.status})`);
    all.push(JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Run);
    process.stderr.write(`run ${i + 1}/${runs}: ${all.at(-1)!.heapBytesPerRegister} B, ${all.at(-1)!.cpuMicrosPerRegister} us per REGISTER\n`);
  }
  writeResult('registrar-heap', {
    command: `node --expose-gc bench/registrar/heap.ts --count ${count} --numbers ${numbers} --runs ${runs}`,
    what: 'authenticated REGISTER (digest MD5, qop=auth, nc increasing) refreshing a binding: parse, transaction cache, registrar, LMDB group commit, 200 written',
    runs: all.length,
    heapBytesPerRegister: median(all.map((r) => r.heapBytesPerRegister)),
    cpuMicrosPerRegister: median(all.map((r) => r.cpuMicrosPerRegister)),
    registersPerSecondOneThread: median(all.map((r) => r.registersPerSecondOneThread)),
    each: all,
  });
}
