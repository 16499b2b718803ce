// The readable log format: one line per record, level names, key=value fields, nothing a terminal obeys.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { prettyLines } from '../../src/log.js';
import { exitOf, freeUdpPort, sipregCommand, tmpDir, writeConfig } from '../helpers/sipreg.js';
import { until } from '../helpers/wait.js';

t.test('pretty: time, level name, message, then the fields', async (t) => {
  const json = `${JSON.stringify({ level: 40, time: '2026-05-01T12:00:00.000Z', svc: 'sipreg', number: '1001', source: '127.0.0.1:5062', ua: 'Yealink SIP-T46S', n: 3, ok: false, list: ['a'], msg: 'slow commit' })}\n`;
  t.equal(prettyLines(json), '2026-05-01T12:00:00.000Z WARN  slow commit number=1001 source=127.0.0.1:5062 ua="Yealink SIP-T46S" n=3 ok=false list=["a"]\n');
  t.equal(prettyLines(`${JSON.stringify({ level: 60, time: 't', msg: 'a' })}\n${JSON.stringify({ level: 10, time: 't', msg: 'b' })}\n`), 't FATAL a\nt TRACE b\n');
});

t.test('pretty: control and bidi characters from the network are escaped, in fields and in the message', async (t) => {
  const out = prettyLines(`${JSON.stringify({ level: 30, time: 't', ua: 'evil\u001b[2J\u009b31m\u202eabc', msg: 'x\u001b]0;title\u0007\r\ny' })}\n`);
  t.notMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/, 'no raw control character');
  t.equal(out.split('\n').length, 2, 'one line');
  t.match(out, /ua="evil\\u001b\[2J\\u009b31m\\u202eabc"/);
  t.match(out, /INFO  x\\u001b\]0;title\\u0007\\u000d\\u000ay ua=/);
});

/**
 * Under systemd, stdout is the journal's stream ($JOURNAL_STREAM names it): each line starts with its
 * syslog priority, which journald files it under (`journalctl -p warning`). The real binary, its stdout a
 * file standing in for the stream.
 */
async function runWithStdout(t: Test, journal: 'named' | 'other' | 'unset'): Promise<string> {
  const dir = tmpDir('sipreg-journal-');
  const port = await freeUdpPort();
  // An account with a password in a file everyone can read: a warning at start.
  const file = writeConfig(`sip:\n  listen: ["127.0.0.1:${port}"]\ndata_dir: "@DATA@"\nlog_level: info\naccounts:\n  - { number: "1001", password: "pw1001x" }\n`, dir);
  chmodSync(file, 0o644);
  const out = join(dir, 'stdout');
  const fd = openSync(out, 'w');
  const st = fstatSync(fd);
  const env: NodeJS.ProcessEnv = { ...process.env, JOURNAL_STREAM: journal === 'named' ? `${st.dev}:${st.ino}` : journal === 'other' ? `${st.dev}:${st.ino + 1}` : '' };
  const { file: bin, prefix } = sipregCommand();
  const child = spawn(bin, [...prefix, 'run', '-c', file], { stdio: ['ignore', fd, 'pipe'], env });
  closeSync(fd);
  t.teardown(() => { child.kill('SIGKILL'); });
  await until('started', () => readFileSync(out, 'utf8').includes('sipreg started'), 20_000);
  child.kill('SIGTERM');
  await exitOf(child);
  return readFileSync(out, 'utf8');
}

t.test('journal: each line carries its syslog priority when stdout is the stream $JOURNAL_STREAM names', async (t) => {
  const lines = (await runWithStdout(t, 'named')).split('\n').filter((l) => l !== '');
  const warn = lines.find((l) => l.includes('"level":40'));
  t.match(warn, /^<4>\{"level":40,/, 'a warning is filed as warning');
  t.ok(lines.some((l) => /^<6>\{"level":30,.*"msg":"sipreg started"/.test(l)), 'info as info');
  t.ok(lines.every((l) => /^<[0-7]>\{"level":/.test(l)), 'every line, and nothing else before its JSON');
  for (const l of lines) JSON.parse(l.slice(3));
});

t.test('journal: plain JSON lines when stdout is something else', async (t) => {
  for (const journal of ['other', 'unset'] as const) {
    const lines = (await runWithStdout(t, journal)).split('\n').filter((l) => l !== '');
    t.ok(lines.length >= 2 && lines.every((l) => l.startsWith('{"level":')), `JOURNAL_STREAM ${journal}: no prefix`);
  }
});
