// Where the service's CPU per steady-state refresh goes: runs the service bundle (dist/sipreg.cjs, plain
// node) under `node --cpu-prof`, drives it with the throughput bench's steady scenario at one rate, and
// prints the profile's self time per function over the measured window only (after every phone has
// registered and refreshed once), in µs per refresh answered 200, beside the process's whole CPU per refresh
// from /proc (what the profile does not see: the kernel's side of the datagrams, GC threads, libuv).
//   node profile.mjs [--rate 5000] [--seconds 10] [--top 30] [--accounts n] [--keep dir] [--floor] [--perf] [--service dist/sipreg.cjs]   (make build first)
// --perf: Linux perf instead of V8's profiler (node --perf-basic-prof names the JS functions; kernel and native
// code included), each symbol's share of samples times the process's CPU per refresh.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { arg, bundleOnce, firstAnswer, freePort, procStat, repoRoot, tempDir, writeBenchConfig } from './common.js';
import { countAt, lastResponseColumn, removeSipp, sippCounts, sippScenario, startSipp, writeUsers } from './sipp.js';

const rate = Number(arg('rate', '5000'));
const seconds = Number(arg('seconds', '10'));
const top = Number(arg('top', '30'));
const keep = arg('keep', '');
const usePerf = process.argv.includes('--perf');
const accounts = Number(arg('accounts', String(Math.max(10_000, rate * 5))));   // the bench's is 10,000: at 10,000/s each phone refreshes every 1 s
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The main thread's context switches: voluntary (it waited: one a wake-up of the event loop) and not (preempted). */
function switches(pid: number): { voluntary: number; preempted: number } {
  const status = readFileSync(`/proc/${pid}/task/${pid}/status`, 'utf8');
  return { voluntary: Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]), preempted: Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(status)![1]) };
}

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/** Self µs per function ("name file:line") over samples in [fromUs, toUs) of the profile's clock. */
function selfTimes(p: Profile, fromUs: number, toUs: number): Map<string, number> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    const dt = p.timeDeltas[i + 1] ?? 0;   // a sample stands for the time until the next one
    if (t < fromUs || t >= toUs) continue;
    const f = byId.get(p.samples[i]!)!.callFrame;
    const file = f.url.split('/').at(-1) ?? '';
    const key = `${f.functionName || '(anonymous)'} ${file}${file === '' ? '' : `:${f.lineNumber + 1}`}`;
    out.set(key, (out.get(key) ?? 0) + dt);
  }
  return out;
}

async function main(): Promise<void> {
  const dir = tempDir('sipreg-profile-');
  const port = await freePort();
  const users = writeUsers(dir, accounts);
  const config = writeBenchConfig(dir, port, accounts);
  // --floor: the same under the bare node:dgram responder (floor.ts), for what Node's dgram costs alone.
  const argv = process.argv.includes('--floor')
    ? [bundleOnce(join(repoRoot, 'bench', 'registrar', 'floor.ts'), 'floor.mjs'), '--port', String(port)]
    : [arg('service', join(repoRoot, 'dist', 'sipreg.cjs')), 'run', '-c', config];
  const child = spawn(process.execPath, [...(usePerf ? ['--perf-basic-prof'] : ['--cpu-prof', '--cpu-prof-dir', dir]), ...argv],
    { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise<void>((r) => child.on('exit', () => r()));
  await firstAnswer(port, Date.now(), 120_000);
  const phones = Math.min(accounts, rate * 5);
  const periodMs = Math.round((phones / rate) * 1000);
  const ramp = Math.min(rate, 4000);
  const run = startSipp({ port, scenario: sippScenario.steadyRefresh, users, rate: ramp, calls: phones, concurrent: phones + 10,
    timeoutS: Math.ceil(phones / ramp + periodMs / 1000 + seconds) + 60, extra: ['-d', String(periodMs), '-set', 'refreshes', '100000'] });
  await sleep((phones / ramp) * 1000 + periodMs + 1000);
  const startMs = Date.now();
  const before = procStat(child.pid!);
  const switchesBefore = switches(child.pid!);
  const perf = usePerf ? spawn('perf', ['record', '-q', '-o', join(dir, 'perf.data'), '-p', String(child.pid), '--', 'sleep', String(seconds)], { stdio: 'ignore' }) : null;
  await sleep(seconds * 1000);
  const after = procStat(child.pid!);
  const switchesAfter = switches(child.pid!);
  const endMs = Date.now();
  await sleep(1500);
  run.child.kill('SIGKILL');
  await run.exited;
  const rows = sippCounts(run.dir);
  const ok = lastResponseColumn(rows, 200);
  const refreshes = Math.round(countAt(rows, ok, endMs) - countAt(rows, ok, startMs));
  removeSipp(run);
  const stopMs = Date.now();
  child.kill('SIGTERM');
  await exited;
  const cpuUs = ((after.cpuS - before.cpuS) * 1e6) / refreshes;
  const perThousand = (k: 'voluntary' | 'preempted'): string => ((1000 * (switchesAfter[k] - switchesBefore[k])) / refreshes).toFixed(0);
  process.stdout.write(`main thread per 1,000 refreshes: ${perThousand('voluntary')} waits (event-loop wake-ups), ${perThousand('preempted')} preemptions\n`);
  if (perf !== null) {
    await new Promise((r) => perf.exitCode !== null ? r(null) : perf.on('exit', r));
    // Every on-CPU sample of the process (kernel, libuv, V8, JS by name): a symbol's share of the process's CPU.
    const report = spawnSync('perf', ['report', '-i', join(dir, 'perf.data'), '--no-children', '--sort', 'sym', '--stdio', '-g', 'none'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    const lines = [`rate ${rate}/s, ${refreshes} refreshes answered 200; process CPU ${cpuUs.toFixed(1)} µs a refresh (/proc); perf, self:`];
    for (const m of report.stdout.matchAll(/^\s+([0-9.]+)%\s+(\[.\]\s+.*)$/gm)) {
      if (lines.length > top) break;
      lines.push(`${((Number(m[1]) / 100) * cpuUs).toFixed(2).padStart(8)} µs  ${m[2]!.slice(0, 110)}`);
    }
    process.stdout.write(lines.join('\n') + '\n');
    if (keep !== '') spawnSync('cp', [join(dir, 'perf.data'), join(keep, `perf-${rate}.data`)]);
    rmSync(dir, { recursive: true, force: true });
    return;
  }
  const file = readdirSync(dir).find((n) => n.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error('no .cpuprofile written (did the service exit cleanly?)');
  const p = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
  // The profile's clock is monotonic µs; its end is (about) the moment of the SIGTERM's exit.
  const endUs = p.endTime - (Date.now() - stopMs) * 1000;
  const toUs = endUs - (stopMs - endMs) * 1000;
  const fromUs = toUs - (endMs - startMs) * 1000;
  const self = selfTimes(p, fromUs, toUs);
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const lines = [`rate ${rate}/s, ${refreshes} refreshes answered 200 in ${(endMs - startMs) / 1000} s; process CPU ${cpuUs.toFixed(1)} µs a refresh ` +
    `(/proc), profiled ${(total / refreshes).toFixed(1)} µs a refresh (main thread, idle included as "(idle)")`];
  for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${(v / refreshes).toFixed(2).padStart(8)} µs  ${k}`);
  process.stdout.write(lines.join('\n') + '\n');
  if (keep !== '') { writeFileSync(join(keep, `profile-${rate}.cpuprofile`), JSON.stringify(p)); }
  rmSync(dir, { recursive: true, force: true });
}

await main();
