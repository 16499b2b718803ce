// Sync before answer (issue 14): the 200 of a change leaves only after the fdatasync of its commit has
// returned, whatever lmdb-js's overlappingSync does. The real service runs under strace (apt: strace),
// every thread traced with wall-clock timestamps, and every fdatasync/fsync/msync held DELAY_MS on its
// way back to the program (`-e inject=...:delay_exit`). A phone then makes two changes with digest auth
// (a first registration, then its unregister) and the trace must show, for each: a sync that started
// after the request was sent, the 200's sendmsg only after that sync returned, and the delay in the time
// the phone waited for its 200.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freeUdpPort, sipregCommand, tmpDir, waitForLine } from '../helpers/sipreg.js';
import { SipClient, answerChallenge, type Response } from '../registrar/sipclient.js';

const DELAY_MS = 200;
const SYNCS = ['fdatasync', 'fsync', 'msync'];
const SENDS = ['sendto', 'sendmsg', 'sendmmsg'];

/** Wall-clock ms with sub-ms precision, on the same clock as strace -ttt. */
const wallMs = (): number => performance.timeOrigin + performance.now();

interface Call { pid: number; name: string; entryMs: number; exitMs: number; text: string }

/**
 * The completed calls of an `strace -f -ttt -T -s N` trace. A call split by another thread's event
 * ("<unfinished ...>" then "<... name resumed>") is joined by pid. -T does not count an injected delay,
 * so `exitMs` (entry + time in the kernel) is when strace began holding the call, not when it returned.
 */
function parseTrace(text: string): Call[] {
  const calls: Call[] = [];
  const open = new Map<string, { entryMs: number; text: string }>();
  for (const line of text.split('\n')) {
    const head = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/.exec(line);
    if (head === null) continue;
    const pid = Number(head[1]);
    const atMs = Number(head[2]) * 1000;
    const rest = head[3]!;
    const resumed = /^<\.\.\. (\w+) resumed>(.*)$/.exec(rest);
    if (resumed !== null) {
      const start = open.get(`${pid}:${resumed[1]}`);
      if (start === undefined) continue;
      open.delete(`${pid}:${resumed[1]}`);
      calls.push({ pid, name: resumed[1]!, entryMs: start.entryMs, exitMs: start.entryMs + durationMs(rest), text: start.text + resumed[2]! });
      continue;
    }
    const call = /^(\w+)\(/.exec(rest);
    if (call === null) continue;
    if (rest.endsWith('<unfinished ...>')) { open.set(`${pid}:${call[1]}`, { entryMs: atMs, text: rest }); continue; }
    calls.push({ pid, name: call[1]!, entryMs: atMs, exitMs: atMs + durationMs(rest), text: rest });
  }
  return calls.sort((a, b) => a.entryMs - b.entryMs);
}

function durationMs(text: string): number {
  const m = /<(\d+\.\d+)>\s*$/.exec(text);
  return m === null ? 0 : Number(m[1]) * 1000;
}

t.test('the 200 of a change is sent only after the fdatasync of its commit returned', async (t) => {
  const dir = tmpDir('sipreg-sync-order-');
  const port = await freeUdpPort();
  const config = join(dir, 'sipreg.yaml');
  writeFileSync(config, `sip:\n  listen: ["127.0.0.1:${port}"]\ndata_dir: ${join(dir, 'data')}\nlog_level: info\n` +
    'accounts:\n  - { number: "1001", password: "secret" }\n');
  const traceFile = join(dir, 'strace.txt');
  const { file, prefix } = sipregCommand();
  const strace = spawn('strace', ['-f', '-ttt', '-T', '-s', '4096', '-o', traceFile,
    '-e', `trace=${[...SYNCS, ...SENDS].join(',')}`, '-e', `inject=${SYNCS.join(',')}:delay_exit=${DELAY_MS * 1000}`,
    file, ...prefix, 'run', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  strace.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  const exited = new Promise<void>((resolve) => strace.on('exit', () => resolve()));
  // strace's one child is the service; it is stopped by pid (a signal to strace would only detach it).
  const servicePid = (): number => Number(readFileSync(`/proc/${strace.pid}/task/${strace.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  t.teardown(async () => {
    try { process.kill(servicePid(), 'SIGKILL'); } catch { /* gone */ }
    await exited;
  });
  await waitForLine(strace, (line) => line.includes('"sipreg started"'), 60_000).catch((err: Error) => { throw new Error(`${err.message}\n${stderr}`); });

  const trace = (): Call[] => parseTrace(readFileSync(traceFile, 'utf8'));
  // Start-up writes (schema, nonce secret, samples) commit and sync too: wait until none has come for 1.5 s.
  for (let quietSince = Date.now(), seen = -1; Date.now() - quietSince < 1500;) {
    const n = trace().filter((c) => SYNCS.includes(c.name)).length;
    if (n !== seen) { seen = n; quietSince = Date.now(); }
    await new Promise((r) => setTimeout(r, 100));
  }

  const phone = await SipClient.open(port);
  t.teardown(() => phone.close());
  const contact = `<sip:1001@127.0.0.1:${phone.port}>`;
  const challenge = await phone.register({ user: '1001', expires: 3600 });
  t.equal(challenge.status, 401, 'the first REGISTER is challenged');

  /** Sends one change with credentials (nonce-count `nc` of the challenge's nonce); times it. */
  const change = async (expires: number, nc: number): Promise<{ sentMs: number; answeredMs: number; response: Response; callId: string; cseq: number }> => {
    const authorization = answerChallenge(challenge, '1001', 'secret', 'sip:127.0.0.1', nc);
    const { text, branch } = phone.registerText({ user: '1001', expires, authorization });
    const cseq = phone.cseq;
    const sentMs = wallMs();
    const response = await phone.request(text, branch, 15_000);
    return { sentMs, answeredMs: wallMs(), response, callId: phone.callId, cseq };
  };

  const check = (name: string, c: Awaited<ReturnType<typeof change>>): void => {
    t.equal(c.response.status, 200, `${name}: answered 200`);
    const calls = trace();
    const answer = calls.find((x) => SENDS.includes(x.name) && x.entryMs >= c.sentMs && x.text.includes('SIP/2.0 200 OK') &&
      x.text.includes(c.callId) && x.text.includes(`CSeq: ${c.cseq} REGISTER`));
    if (answer === undefined) { t.fail(`${name}: the 200's send is in the trace`); return; }
    const syncs = calls.filter((x) => SYNCS.includes(x.name) && x.entryMs >= c.sentMs && x.entryMs <= answer.entryMs);
    t.ok(syncs.length >= 1, `${name}: a sync started between the REGISTER and its 200 (${syncs.map((s) => `${s.name} +${(s.entryMs - c.sentMs).toFixed(1)} ms`).join(', ')})`);
    for (const s of syncs) {
      const returnedMs = s.exitMs + DELAY_MS;
      t.ok(answer.entryMs >= returnedMs,
        `${name}: the 200 left ${(answer.entryMs - returnedMs).toFixed(1)} ms after ${s.name} (thread ${s.pid}) returned ` +
        `(sync entered +${(s.entryMs - c.sentMs).toFixed(1)} ms, held until +${(returnedMs - c.sentMs).toFixed(1)} ms, 200 sent +${(answer.entryMs - c.sentMs).toFixed(1)} ms)`);
    }
    t.ok(c.answeredMs - c.sentMs >= DELAY_MS, `${name}: the phone waited ${(c.answeredMs - c.sentMs).toFixed(1)} ms for its 200 (at least the ${DELAY_MS} ms held in the sync)`);
  };

  const registered = await change(3600, 1);
  check('first registration', registered);
  t.ok(registered.response.all('contact').some((h) => h.includes(contact)), 'the 200 lists the new binding');

  const removed = await change(0, 2);
  check('unregister', removed);
  t.notOk(removed.response.all('contact').some((h) => h.includes(contact)), 'the binding is gone');

  process.kill(servicePid(), 'SIGTERM');
  await exited;
});
