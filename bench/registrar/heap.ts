// Heap allocated per REGISTER (issue 3: at most 1 KiB now, 256 B the aim), measured in-process over
// 100,000 authenticated REGISTERs: parse → transaction cache → registrar (digest with nonce-count,
// bindings policy over LMDB, group commit) → 200 written (test/helpers/in-process-registrar.ts; the transport is
// a stand-in, so Node's own per-datagram Buffer/rinfo and SendWrap are excluded; test/registrar/
// alloc.test.ts bounds the same figure in the suite). Allocation is summed from V8's GC profiler: bytes freed by each GC
// plus the growth after the last one. Also reports CPU time per REGISTER.
// The machine is shared and noisy: the measurement runs `--runs` times (default 3), each in a fresh
// process, and the medians are reported with every run's figures.
//   node --expose-gc bench/registrar/heap.ts [--count 100000] [--numbers 1000] [--runs 3]
import { GCProfiler } from 'node:v8';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { arg, median, tempDir, writeResult } from './common.js';
import { inProcessRegistrar } from '../../test/helpers/in-process-registrar.js';

const count = Number(arg('count', '100000'));
const numbers = Number(arg('numbers', '1000'));
const runs = Number(arg('runs', '3'));
const once = process.argv.includes('--once');
const maybeGc = (globalThis as { gc?: () => void }).gc;
if (maybeGc === undefined) throw new Error('run with node --expose-gc');
const gc: () => void = maybeGc;

async function main(): Promise<Run> {
  const registrar = await inProcessRegistrar(tempDir('sipreg-heap-'), numbers, count);
  const runOnce = (from: number, to: number): Promise<void> => registrar.run(from, to);
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
  await registrar.close();
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
