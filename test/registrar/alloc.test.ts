// Heap allocated per REGISTER through the whole registrar, beside the parser's (test/sip/alloc.test.ts):
// authenticated refreshes (digest MD5, qop=auth, nonce-count rising) through parse, the transaction cache,
// the registrar's checks, the digest, the bindings policy over the stored bytes and the 200 written, with the
// group commit and the service's flush running (test/helpers/in-process-registrar.ts, as
// bench/registrar/heap.ts measures it: ~730-930 B). A change that allocates much per REGISTER (a closure or
// an object per request, strings made on the path) fails here, not only in `make bench`.
// Like the parser's, the file runs itself again in a child `node --expose-gc` with a young generation large
// enough that no scavenge happens inside a measured batch: heapUsed after a batch minus heapUsed after a
// forced GC before it is what the batch allocated. The median of the batches is compared, after a warm-up
// (JIT, inline caches, the nonce-count and write-back tables filled). Bytes, never time.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inProcessRegistrar } from '../helpers/in-process-registrar.js';
import { counters } from '../../src/stats/counters.js';

const NUMBERS = 200;
const WARM = 6_000;
const BATCH = 2_000;
const BATCHES = 7;
const BOUND_BYTES_PER_REGISTER = 2048;

interface Result { perRegister: number[]; accepted: number; measured: number }

async function measure(): Promise<Result> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const dir = mkdtempSync(join(tmpdir(), 'sipreg-alloc-'));
  const registrar = await inProcessRegistrar(dir, NUMBERS, WARM + BATCHES * BATCH);
  try {
    await registrar.run(0, WARM);
    const accepted0 = counters.registersAccepted;
    const perRegister: number[] = [];
    for (let b = 0; b < BATCHES; b++) {
      const from = WARM + b * BATCH;
      gc();
      const before = process.memoryUsage().heapUsed;
      await registrar.run(from, from + BATCH);
      perRegister.push(Math.max(0, process.memoryUsage().heapUsed - before) / BATCH);
    }
    return { perRegister, accepted: counters.registersAccepted - accepted0, measured: BATCHES * BATCH };
  } finally {
    await registrar.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.env['REGISTRAR_ALLOC_CHILD'] === '1') {
  const result = await measure();
  process.stdout.write(`REGISTRAR_ALLOC_RESULT ${JSON.stringify(result)}\n`);
  process.exit(0); // the store's flush timer is the service's: not waited for
} else {
  const { default: t } = await import('tap');
  t.test(`heap per authenticated REGISTER through the registrar, median of ${BATCHES} batches of ${BATCH}`, async (t) => {
    const child = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', '--max-semi-space-size=64', fileURLToPath(import.meta.url)], {
      env: { ...process.env, REGISTRAR_ALLOC_CHILD: '1' }, encoding: 'utf8', timeout: 240_000,
    });
    const line = /REGISTRAR_ALLOC_RESULT (\{.*\})/.exec(child.stdout);
    t.ok(line !== null, `child reported (status ${String(child.status)}): ${child.stderr.slice(0, 500)}`);
    if (line === null) return;
    const r = JSON.parse(line[1]!) as Result;
    const sorted = [...r.perRegister].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    t.comment(`per REGISTER: median ${median.toFixed(0)} B; batches ${r.perRegister.map((x) => x.toFixed(0)).join(', ')} B`);
    t.equal(r.accepted, r.measured, 'every measured REGISTER was accepted (a 200), so the path measured is the whole one');
    t.ok(median < BOUND_BYTES_PER_REGISTER, `median ${median.toFixed(0)} B per REGISTER < ${BOUND_BYTES_PER_REGISTER}`);
  });
}
