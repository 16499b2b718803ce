// Benchmark of src/sip/transactions.ts under a hash-flooding attack (issue 13 item 3): OPTIONS whose
// Via branches all share one bucket of the old unkeyed FNV-1a index, against ordinary branches.
//
//   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/sip/transactions.bench.ts
//
// Cases (each with a full cache of limits.transactionCacheMax entries, so every insertion evicts):
//   receive+complete ordinary    parse is done beforehand; receive() then complete() with a 200
//   receive+complete colliding   the same with branches crafted against the old index
//   sweep colliding (all)        one sweep over a full cache of expired colliding entries
//   sweep colliding (slice)      one slice of limits.transactionSweepSliceMax slots of the same
// Prints one line per case and appends a JSON line to bench/results/sip-transactions.json.
import { appendFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { ResponseWriter, ServerTransactions, SipMessage, parse } from '../../src/sip/index.js';
import { limits } from '../../src/limits.js';
import { TIMER_J_MS } from '../../src/sip/timers.js';
import { collidingBranches } from '../../test/helpers/fnv-collisions.js';

const SOURCE = { address: '203.0.113.9', port: 40000 };
const CAPACITY = limits.transactionCacheMax;
const OPS = 20_000;

function options(branch: string): Buffer {
  return Buffer.from(`OPTIONS sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP ${SOURCE.address}:${SOURCE.port};branch=${branch}\r\nMax-Forwards: 70\r\n` +
    `From: <sip:a@${SOURCE.address}>;tag=f1\r\nTo: <sip:192.0.2.1>\r\nCall-ID: ${branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
}

/** Parsed messages are kept as datagrams; each op parses into one SipMessage first (not timed apart). */
const colliding = collidingBranches(CAPACITY + OPS, SOURCE.address, SOURCE.port).map(options);
const ordinary = Array.from({ length: CAPACITY + OPS }, (_, i) => options(`z9hG4bK-${i.toString(36)}-${(i * 2654435761 >>> 0).toString(36)}`));
const msg = new SipMessage();
const writer = new ResponseWriter();
const out = Buffer.alloc(limits.responseSizeMax);
const answerLength = (): number => {
  const n = writer.begin(out, msg, 200, 'OK', SOURCE).finish();
  if (typeof n !== 'number') throw new Error(n);
  return n;
};

function run(datagrams: Buffer[], tx: ServerTransactions, from: number, to: number, nowMs: number): void {
  for (let i = from; i < to; i++) {
    if (parse(msg, datagrams[i]!) !== null) throw new Error('parse');
    if (tx.receive(msg, SOURCE, nowMs) !== 'new') throw new Error('not new');
    tx.complete(tx.handle, out, answerLength(), nowMs);
  }
}

const results: Record<string, { nsPerOp: number; ms: number }> = {};
const report = (name: string, ms: number, ops: number): void => {
  results[name] = { nsPerOp: Math.round(ms * 1e6 / ops), ms: Math.round(ms * 10) / 10 };
  console.log(`${name.padEnd(30)} ${String(results[name].nsPerOp).padStart(9)} ns/op  ${results[name].ms.toFixed(1).padStart(8)} ms for ${ops}`);
};

for (const [name, datagrams] of [['ordinary', ordinary], ['colliding', colliding]] as const) {
  const tx = new ServerTransactions();
  run(datagrams, tx, 0, CAPACITY, 0); // fill
  const t0 = performance.now();
  run(datagrams, tx, CAPACITY, CAPACITY + OPS, 0);
  report(`receive+complete ${name}`, performance.now() - t0, OPS);
}
{
  const tx = new ServerTransactions();
  run(colliding, tx, 0, CAPACITY, 0);
  const t0 = performance.now();
  const n = tx.sweep(TIMER_J_MS);
  report('sweep colliding (all)', performance.now() - t0, Math.max(1, n));
  const tx2 = new ServerTransactions();
  run(colliding, tx2, 0, CAPACITY, 0);
  const t1 = performance.now();
  const m = tx2.sweep(TIMER_J_MS, limits.transactionSweepSliceMax);
  report('sweep colliding (slice)', performance.now() - t1, Math.max(1, m));
}

const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, arch: process.arch, node: process.version, load: os.loadavg()[0] ?? 0 };
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.arch}; node ${machine.node}; load ${machine.load.toFixed(1)}; cache ${CAPACITY}`);
const dir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(dir, { recursive: true });
appendFileSync(dir + 'sip-transactions.json', JSON.stringify({ bench: 'sip-transactions', at: new Date().toISOString(), machine, ops: OPS, results }) + '\n');
