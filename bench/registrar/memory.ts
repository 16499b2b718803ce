// Memory and start-up with 100,000 stored bindings (issue 3): V8 heap under 32 MiB, RSS under 128 MiB,
// start-up to first answer under 1 s. The store is filled directly, then:
//   - start-up: the real service is spawned and an OPTIONS is repeated until answered (ms since spawn);
//     then a REGISTER query for a stored number is answered from the store; RSS read from /proc;
//   - heap: the same SIP side started in a child process with --expose-gc (config, store, sockets,
//     registrar, sweep), heapUsed after a full GC.
// Run twice: with 1,000 accounts (bindings dominate) and with one account per binding (100,000).
// The 1,000-account case runs `--runs` times (default 3) and reports medians with each run.
//   node bench/registrar/memory.ts [--bindings 100000] [--runs 3]
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import dgram from 'node:dgram';
import { openStore, putBinding, countBindings, type BindingRecord } from '../../src/store/index.js';
import { arg, firstAnswer, freePort, median, numberOf, procStat, startSipreg, tempDir, writeBenchConfig, writeResult } from './common.js';

async function fill(dataDir: string, count: number): Promise<void> {
  const store = openStore(dataDir);
  const now = Date.now();
  for (let i = 0; i < count; i += 10_000) {
    let last: Promise<unknown> | null = null;
    for (let k = i; k < Math.min(count, i + 10_000); k++) {
      const n = numberOf(k);
      const b: BindingRecord = {
        number: n, aor: `sip:${n}@voip.example.com`, contactKey: `sip:${n}@10.1.${(k >> 8) & 255}.${k & 255}:5060`,
        contact: `sip:${n}@10.1.${(k >> 8) & 255}.${k & 255}:5060`, instance: null, source: `198.51.100.${k % 250}:${10000 + (k % 50000)}`,
        sourceAddress: `198.51.100.${k % 250}`, sourcePort: 10000 + (k % 50000), localAddress: '127.0.0.1:5060', expiresS: 3600,
        expiresAtMs: now + 3_600_000 + k, registeredAtMs: now, refreshedAtMs: now, userAgent: 'Yealink SIP-T46S 66.86.0.15', account: 'Customer_A',
        nat: true, callId: `${k}-bench@10.1.0.1`, cseq: 2, q: null, keepalive: null,
      };
      last = putBinding(store, b);
    }
    await last;
  }
  if (countBindings(store).total !== count) throw new Error('fill');
  await store.close();
}

async function queryAnswered(port: number, number: string): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const me = s.address().port;
  const t0 = Date.now();
  const contacts = await new Promise<number>((resolve) => {
    s.on('message', (b) => resolve((b.toString().match(/^Contact:/gm) ?? []).length));
    s.send(Buffer.from(`REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bKq${me};rport\r\n` +
      `From: <sip:${number}@127.0.0.1>;tag=1\r\nTo: <sip:${number}@127.0.0.1>\r\nCall-ID: q${me}\r\nCSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n`), port, '127.0.0.1');
  });
  s.close();
  return contacts >= 0 ? Date.now() - t0 : -1;
}

async function inProcessHeap(config: string): Promise<{ heapUsedMiB: number; rssMiB: number }> {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(process.execPath, ['--expose-gc', self, '--inproc', config], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  await new Promise<void>((r) => child.on('exit', () => r()));
  return JSON.parse(out) as { heapUsedMiB: number; rssMiB: number };
}

async function inproc(configFile: string): Promise<void> {
  const { loadConfigOrThrow } = await import('../../src/config/index.js');
  const { createLogger } = await import('../../src/log.js');
  const { sipService } = await import('../../src/service/sip.js');
  const config = loadConfigOrThrow(configFile);
  const store = openStore(config.dataDir);
  const { StoreFlush } = await import('../../src/store/index.js');
  const ctx = { store, writes: new StoreFlush(store, config.params.storeFlushIntervalS), log: createLogger('silent'), config: () => config };
  const sip = sipService(ctx);
  await sip.component.start();
  await new Promise((r) => setTimeout(r, 1500)); // a sweep pass and a few timers
  const gc = (globalThis as { gc?: () => void }).gc!;
  gc(); gc();
  const m = process.memoryUsage();
  process.stdout.write(JSON.stringify({ heapUsedMiB: Math.round(m.heapUsed / 104857.6) / 10, rssMiB: Math.round(m.rss / 104857.6) / 10 }));
  await sip.component.stop();
  await store.close();
  process.exit(0);
}

async function measure(bindings: number, accounts: number): Promise<Record<string, unknown>> {
  const dir = tempDir('sipreg-mem-');
  const port = await freePort();
  const config = writeBenchConfig(dir, port, accounts);
  await fill(join(dir, 'data'), bindings);
  const t0 = Date.now();
  const child = startSipreg(config);
  const startupToFirstAnswerMs = await firstAnswer(port, t0);
  const firstQueryMs = await queryAnswered(port, numberOf(bindings - 1));
  await new Promise((r) => setTimeout(r, 2000));
  const { rssKiB } = procStat(child.pid!);
  const status = readFileSync(`/proc/${child.pid!}/status`, 'utf8');
  const kib = (name: string): number => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const rssAnonKiB = kib('RssAnon');
  const rssFileKiB = kib('RssFile');
  child.kill('SIGTERM');
  await new Promise<void>((r) => child.on('exit', () => r()));
  const heap = await inProcessHeap(config);
  return { bindings, accounts, startupToFirstAnswerMs, firstQueryMs, serviceRssMiB: Math.round(rssKiB / 102.4) / 10,
    serviceRssAnonMiB: Math.round(rssAnonKiB / 102.4) / 10, serviceRssFileMiB: Math.round(rssFileKiB / 102.4) / 10,
    heapUsedMiB: heap.heapUsedMiB, inProcessRssMiB: heap.rssMiB };
}

async function main(): Promise<void> {
  const bindings = Number(arg('bindings', '100000'));
  const repeat = Number(arg('runs', '3'));
  const few: Record<string, unknown>[] = [];
  for (let i = 0; i < repeat; i++) few.push(await measure(bindings, 1000));
  const med = (k: string): number => median(few.map((r) => r[k] as number));
  writeResult('registrar-memory', {
    command: `node bench/registrar/memory.ts --bindings ${bindings} --runs ${repeat}`,
    targets: { heapUsedMiB: 32, serviceRssMiB: 128, startupToFirstAnswerMs: 1000 },
    median1000Accounts: { bindings, accounts: 1000, startupToFirstAnswerMs: med('startupToFirstAnswerMs'), serviceRssMiB: med('serviceRssMiB'),
      serviceRssAnonMiB: med('serviceRssAnonMiB'), serviceRssFileMiB: med('serviceRssFileMiB'), heapUsedMiB: med('heapUsedMiB') },
    runs: [...few, await measure(bindings, bindings)],
  });
}

const inprocIndex = process.argv.indexOf('--inproc');
if (inprocIndex >= 0) await inproc(process.argv[inprocIndex + 1]!);
else await main();
