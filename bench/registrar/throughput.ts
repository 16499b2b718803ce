// Authenticated registrations per second (issue 3 "Speed and memory", issue 14 "Speed"), against the real
// service, the rate stepped up, in two figures:
//   steady  the main one, what a registrar does all day: phones registered once, then refreshing
//           (bench/registrar/steady-refresh.xml: one SIPp call per phone, the same Call-ID, Contact and
//           source port, CSeq + 1). A refresh carries the credentials of the phone's last challenge with the
//           next nonce-count, as PJSIP, Linphone and most desk phones do, so it is one REGISTER and its 200
//           while the nonce is valid (SS_AUTH_NONCE_LIFETIME; in the field, with refreshes every 300 s or
//           more, the nonce is usually stale by then and the refresh costs a 401 round, the storm's shape).
//           Phones = min(accounts, rate x 5 s), each refreshing every phones/rate s; they register at up to
//           4,000/s (at most one period apart, so their refreshes fall evenly), and the step is measured
//           over `--seconds` after every phone has refreshed once: refreshes answered 200 (SIPp's per-message
//           counts), their latency, the service's CPU per refresh.
//   storm   the first-registration storm: REGISTER → 401 → REGISTER with digest → 200 over many numbers
//           (test/fixtures/sipp/load-auth.xml, one number per call), `--seconds` a step.
// Each step reports success, latency percentiles, the service's CPU and CPU per registration, RSS; the
// figure is the highest achieved rate with ≥ 99.9 % success. The whole sweep runs `--runs` times (default 3),
// each against a freshly started service; the result is the median of the runs' best rates.
// `--target` runs the same sweeps, same SIPp, same numbers and passwords, against a reference instead:
// `kamailio` (Kamailio 5.6 from apt as an in-memory registrar, kamailio-registrar.cfg) or `floor` (a
// bare node:dgram responder that answers 401 then 200 without any registrar work, floor.ts).
//   node bench/registrar/throughput.ts [--target sipreg|kamailio|floor] [--modes steady,storm]
//     [--accounts 10000] [--seconds 10] [--rates 1000,2000,...] [--runs 3]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  arg, bundleOnce, firstAnswer, freePort, median, percentile, procStat, repoRoot, startSipreg, tempDir, writeBenchConfig,
  writeResult,
} from './common.js';
import { countAt, lastResponseColumn, removeSipp, sippCalls, sippCounts, sippRtts, sippScenario, sippStats, startSipp, writeUsers } from './sipp.js';

const targets = ['sipreg', 'kamailio', 'floor'] as const;
const target = arg('target', 'sipreg') as (typeof targets)[number];
if (!targets.includes(target)) throw new Error(`--target must be one of ${targets.join(', ')}, not ${target}`);
const modes = arg('modes', 'steady,storm').split(',') as ('steady' | 'storm')[];
for (const m of modes) if (m !== 'steady' && m !== 'storm') throw new Error(`--modes takes steady and storm, not ${m}`);

const accounts = Number(arg('accounts', '10000'));
const seconds = Number(arg('seconds', '10'));
const rates = arg('rates', '1000,2000,3000,4000,5000,6000,8000,10000,12000,16000,20000,24000,30000').split(',').map(Number);
const runs = Number(arg('runs', '3'));
const STEADY_PERIOD_MAX_S = 5;
const RAMP_MAX_PER_S = 4000;

interface Step { rate: number; calls: number; successful: number; failed: number; successPct: number; achievedPerS: number;
  p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number; serviceCpuPct: number; cpuUsPerRegistration: number; serviceRssMiB: number;
  phones?: number; periodS?: number; retransmissions?: number }

/** CPU and RSS of a process and its children (Kamailio forks its workers; sipreg and the floor are one). */
function treeStat(pid: number): { cpuS: number; rssKiB: number } {
  const total = procStat(pid);
  let children: string[] = [];
  try { children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((c) => c !== ''); } catch { /* gone */ }
  for (const c of children) {
    try { const s = procStat(Number(c)); total.cpuS += s.cpuS; total.rssKiB += s.rssKiB; } catch { /* exited */ }
  }
  return total;
}

let floorBundle: string | undefined;

/** Starts the target on the port; the accounts are numberOf(i) with password pw<i> for all three. */
function startTarget(dir: string, port: number): ChildProcess {
  if (target === 'sipreg') return startSipreg(writeBenchConfig(dir, port, accounts));
  if (target === 'kamailio') {
    const cfg = readFileSync(join(repoRoot, 'bench', 'registrar', 'kamailio-registrar.cfg'), 'utf8')
      .replaceAll('@PORT@', String(port)).replaceAll('@CTL@', join(dir, 'kamailio.ctl'));
    writeFileSync(join(dir, 'kamailio.cfg'), cfg);
    return spawn('kamailio', ['-f', join(dir, 'kamailio.cfg'), '-DD', '-E', '-m', '256', '-M', '16', '-w', dir, '-P', join(dir, 'kamailio.pid')],
      { stdio: ['ignore', 'ignore', 'ignore'] });
  }
  floorBundle ??= bundleOnce(join(repoRoot, 'bench', 'registrar', 'floor.ts'), 'floor.mjs');
  return spawn(process.execPath, [floorBundle, '--port', String(port)], { stdio: 'ignore' });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round1 = (v: number): number => Math.round(v * 10) / 10;

function peakRssSampler(pid: number): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => { try { peak = Math.max(peak, treeStat(pid).rssKiB); } catch { /* exited */ } }, 250);
  return { stop() { clearInterval(timer); return Math.round(peak / 1024); } };
}

async function stormStep(port: number, pid: number, users: string, rate: number): Promise<Step> {
  const calls = rate * seconds;
  const before = treeStat(pid);
  const rss = peakRssSampler(pid);
  const started = Date.now();
  const run = startSipp({ port, scenario: sippScenario.firstRegistration, users, rate, calls, concurrent: Math.max(1000, rate * 4), timeoutS: seconds + 30 });
  await run.exited;
  const serviceRssMiB = rss.stop();
  const wallS = (Date.now() - started) / 1000;
  const after = treeStat(pid);
  const { successful, failed } = sippCalls(run.dir);
  const rtts = sippRtts(run.dir);
  removeSipp(run);
  const cpuS = after.cpuS - before.cpuS;
  return {
    rate, calls, successful, failed, successPct: calls === 0 ? 0 : Math.round((successful / calls) * 100_000) / 1000,
    achievedPerS: Math.round(successful / wallS), p50Ms: percentile(rtts, 50), p95Ms: percentile(rtts, 95), p99Ms: percentile(rtts, 99),
    maxMs: rtts.at(-1) ?? NaN, serviceCpuPct: Math.round((cpuS / wallS) * 100), cpuUsPerRegistration: successful === 0 ? NaN : round1((cpuS * 1e6) / successful),
    serviceRssMiB,
  };
}

async function steadyStep(port: number, pid: number, users: string, rate: number): Promise<Step> {
  const phones = Math.min(accounts, Math.round(rate * STEADY_PERIOD_MAX_S));
  const periodMs = Math.round((phones / rate) * 1000);
  const ramp = Math.min(rate, RAMP_MAX_PER_S);
  const rss = peakRssSampler(pid);
  const run = startSipp({ port, scenario: sippScenario.steadyRefresh, users, rate: ramp, calls: phones, concurrent: phones + 10,
    timeoutS: Math.ceil(phones / ramp + periodMs / 1000 + seconds) + 60, extra: ['-d', String(periodMs), '-set', 'refreshes', '100000'] });
  // Registered (phones / ramp s), then one period so every phone has refreshed once: from there on only refreshes.
  await sleep((phones / ramp) * 1000 + periodMs + 1000);
  const startMs = Date.now();
  const before = treeStat(pid);
  await sleep(seconds * 1000);
  const after = treeStat(pid);
  const endMs = Date.now();
  await sleep(1500);   // a counts row past the window
  run.child.kill('SIGKILL');
  await run.exited;
  const serviceRssMiB = rss.stop();
  const rows = sippCounts(run.dir);
  const ok = lastResponseColumn(rows, 200);
  const sentCol = `${Number(ok.split('_')[0]) - 2}_REGISTER_Sent`;   // the refresh: before the optional 401 and the 200
  const retransCol = sentCol.replace('_Sent', '_Retrans');
  const inWindow = (r: typeof rows, col: string): number => Math.round(countAt(r, col, endMs) - countAt(r, col, startMs));
  const successful = inWindow(rows, ok);
  const sent = inWindow(rows, sentCol);
  const retransmissions = inWindow(rows, retransCol);
  // A refresh that times out or meets an unexpected answer fails its phone's call; a slow one is retransmitted
  // and still counts as answered (the phone only refreshes later).
  const failed = inWindow(sippStats(run.dir), 'FailedCall(C)');
  const windowS = (endMs - startMs) / 1000;
  const rtts = sippRtts(run.dir, 'refresh');
  removeSipp(run);
  const cpuS = after.cpuS - before.cpuS;
  return {
    rate, calls: sent, successful, failed, successPct: successful + failed === 0 ? 0 : Math.round((successful / (successful + failed)) * 100_000) / 1000,
    achievedPerS: Math.round(successful / windowS), p50Ms: percentile(rtts, 50), p95Ms: percentile(rtts, 95), p99Ms: percentile(rtts, 99),
    maxMs: rtts.at(-1) ?? NaN, serviceCpuPct: Math.round((cpuS / windowS) * 100), cpuUsPerRegistration: successful === 0 ? NaN : round1((cpuS * 1e6) / successful),
    serviceRssMiB, phones, periodS: periodMs / 1000, retransmissions,
  };
}

interface Sweep { startupMs: number; best: Step | null; steps: Step[] }

/** A step holds when ≥ 99.9 % were answered 200. (Steady: phones wait for their 200 before pausing, so past
 * the capacity the achieved rate stays under the offered one and latency grows; it is the achieved rate
 * that counts.) */
function held(s: Step): boolean {
  return s.successPct >= 99.9;
}

async function sweep(mode: 'steady' | 'storm', run: number): Promise<Sweep> {
  const dir = tempDir('sipreg-bench-');
  const port = await freePort();
  const users = writeUsers(dir, accounts);
  const child = startTarget(dir, port);
  const startupMs = await firstAnswer(port, Date.now(), 120_000);
  const steps: Step[] = [];
  let best: Step | null = null;
  let misses = 0;
  for (const rate of rates) {
    const step = mode === 'steady' ? await steadyStep(port, child.pid!, users, rate) : await stormStep(port, child.pid!, users, rate);
    steps.push(step);
    process.stderr.write(`${target} ${mode} run ${run} rate ${rate}/s: ${step.successPct} % ok, ${step.achievedPerS}/s achieved, ` +
      `p50 ${step.p50Ms} ms p99 ${step.p99Ms} ms, CPU ${step.serviceCpuPct} % (${step.cpuUsPerRegistration} µs a registration), RSS ${step.serviceRssMiB} MiB\n`);
    if (held(step)) { if (best === null || step.achievedPerS > best.achievedPerS) best = step; misses = 0; }
    else if (++misses >= 2) break;
    await sleep(2000); // let retransmissions and the sweep settle
  }
  child.kill('SIGTERM');
  await new Promise<void>((r) => child.on('exit', () => r()));
  rmSync(dir, { recursive: true, force: true });
  return { startupMs, best, steps };
}

async function main(): Promise<void> {
  for (const mode of modes) {
    const sweeps: Sweep[] = [];
    for (let i = 1; i <= runs; i++) sweeps.push(await sweep(mode, i));
    const bests = sweeps.map((w) => w.best?.achievedPerS ?? 0);
    // The run whose best rate is the median one, for its latency and CPU figures.
    const medianBest = median(bests);
    const typical = sweeps.reduce((a, b) => (Math.abs((b.best?.achievedPerS ?? 0) - medianBest) < Math.abs((a.best?.achievedPerS ?? 0) - medianBest) ? b : a));
    const at5000 = sweeps.map((w) => w.steps.find((s) => s.rate === 5000)?.cpuUsPerRegistration).filter((v): v is number => v !== undefined && Number.isFinite(v));
    const base = target === 'sipreg' ? 'registrar-throughput' : `registrar-throughput-${target}`;
    writeResult(mode === 'storm' ? base : base.replace('registrar-throughput', 'registrar-throughput-steady'), {
      target, mode,
      command: `node bench/registrar/throughput.ts --target ${target} --modes ${mode} --accounts ${accounts} --seconds ${seconds} --rates ${rates.join(',')} --runs ${runs}`,
      scenario: mode === 'storm'
        ? 'test/fixtures/sipp/load-auth.xml (REGISTER, 401, REGISTER with MD5 digest, 200): first registrations'
        : `bench/registrar/steady-refresh.xml: phones registered once, then refreshing with the next nonce-count (min(accounts, rate x ${STEADY_PERIOD_MAX_S} s) phones, each every phones/rate s)`,
      accounts, secondsPerStep: seconds, runs,
      bestRateWith999PctSuccess: medianBest,
      bestOfEachRun: bests,
      // The offered rate (SIPp's -r, or phones / period) of each run's best step.
      bestOfferedOfEachRun: sweeps.map((w) => w.best?.rate ?? 0),
      cpuUsPerRegistrationAt5000: median(at5000),
      startupMs: median(sweeps.map((w) => w.startupMs)),
      best: typical.best,
      sweeps: sweeps.map((w) => w.steps),
    });
  }
}

await main();
