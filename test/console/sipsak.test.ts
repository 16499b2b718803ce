/**
 * Issue 16, item 8: sipsak (apt) as most guides show it, `sipsak -U -s sip:1003@HOST -a PASSWORD`, sends
 * `username="1003@"` and then `Expires: 15`. The answers stay as they are (403, 423); the console's Why
 * view (tmux), its failed-registration log and `sipreg events` say what happened and what to do.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { accountsYaml, startService, type Service } from '../e2e/service.js';
import { TmuxConsole } from './fixtures/tmux.js';

const term = new TmuxConsole('sipsak');
let svc: Service;
t.before(async () => {
  // A change's history row is written with the next flush (issue 14): every second here.
  svc = await startService('params:\n  SS_ENDPOINT_MIN_EXPIRE: 60\n  SS_STORE_FLUSH_INTERVAL: 1\n' + accountsYaml(['1003']));
});
t.teardown(async () => {
  term.close();
  await svc.kill('SIGTERM');
});

/** The phrase, whatever line breaks the 80-column wrapping put between its words. */
function phrase(text: string): RegExp {
  return new RegExp(text.split(' ').map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s+'));
}
const HINT_403 = phrase('=> digest username `1003@` is not an account; sipsak needs -u 1003');
const HINT_423 = phrase('=> asked 15 s, minimum is SS_ENDPOINT_MIN_EXPIRE 60; sipsak -U asks 15 s unless given -x 60');

function sipsak(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync('sipsak', ['-U', '-s', `sip:1003@127.0.0.1:${svc.port}`, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

t.test('the guides\' sipsak line, then with -u, then with -x: what each answer meant and what to change', async (t) => {
  const guide = sipsak('-a', 'secret');
  t.not(guide.status, 0, 'sipsak as the guides show it fails');
  t.match(guide.out, /403 Forbidden/, 'answered 403, as before');
  const withUser = sipsak('-a', 'secret', '-u', '1003');
  t.not(withUser.status, 0);
  t.match(withUser.out, /423 Interval Too Brief/, 'then 423, as before');
  const works = sipsak('-a', 'secret', '-u', '1003', '-x', '60');
  t.equal(works.status, 0, works.out.slice(-800));

  const events = svc.cli(['events', '--number', '1003']).stdout;
  t.match(events, HINT_403, 'sipreg events: the hint under the 403');
  t.match(events, HINT_423, 'and under the 423');
  // The registration's row joins the next flush.
  for (let i = 0; i < 40 && !/registered/.test(svc.cli(['events', '--number', '1003', '--type', 'registered']).stdout); i++) {
    await new Promise((r) => setTimeout(r, 250));
  }

  term.start(svc.configFile, svc.dataDir);
  await term.waitFor(/Choice:/);
  term.type('3');
  await term.waitFor(/Number \(0 = cancel\)/);
  term.type('1003');
  let s = await term.waitFor(/== Why: 1003 ==[\s\S]*Choice:/);
  t.ok(s.split('\n').every((l) => l.length <= 80), 'fits 80 columns');
  t.match(s, /1003: account -, auth password/);
  t.match(s, /registered +1003 /, 'the REGISTER that worked');
  t.match(s, HINT_423, 'Why: what the 423 meant and the fix');
  t.match(s, HINT_403, 'Why: what the 403 meant and the fix');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);

  term.type('5');
  await term.waitFor(/== Analysis ==/);
  term.type('7');
  s = await term.waitFor(/== Failed registrations \(newest first\) ==[\s\S]*Choice:/);
  t.match(s, /\n *1 .* 1003 +127\.0\.0\.1:\d+ +expiry too short \(423\)\n/, 'the log leads with the operator\'s words');
  t.match(s, /\n *2 .* 1003 +127\.0\.0\.1:\d+ +unknown user 1003@ \(403\)\n/);
  term.type('1');
  await term.waitFor(/# \(0 = cancel\)/);
  term.type('2');
  s = await term.waitFor(/== Failed registration #2 ==[\s\S]*Choice:/);
  t.match(s, /Why: unknown user 1003@ \(403\)/);
  // The registrar's own words for it (it has said it either way: no such account, or not owning the AOR).
  t.match(s, /403 Forbidden: digest (response\s+for\s+)?user\s+1003@\s+(did\s+not\s+match\s+\(no\s+such\s+account\)|does\s+not\s+own\s+AOR\s+1003)/, 'the detail in full');
  t.match(s, HINT_403);
  term.type('0');
  term.type('0');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);
  term.type('q');
  s = await term.waitFor(/EXIT=\d+/);
  t.match(s, /EXIT=0/);
  term.killSession();
});
