/**
 * Issue 16, items 9 and 10, in an 80x24 tmux window: paging names its keys (`8 older  9 newer`), Why and
 * Event log pages never split an event, the Details prompt has its own title, the Areas `~` is explained,
 * every row the 80 columns cut has a details view (trunks, lockouts, failed registrations) with the
 * failure's operator words first, and no menu or help line is cut.
 */
import t, { type Test } from 'tap';
import { appendEvent } from '../../src/store/index.js';
import { makeEnv, storeSeeder, withOpenStore } from './fixtures/seed.js';
import { TmuxConsole } from './fixtures/tmux.js';

const env = makeEnv('screens');
const nowMs = Date.now();
await storeSeeder(env.dataDir, nowMs);
const DECISIONS = 30;
await withOpenStore(env.dataDir, async (s) => {
  // Real registrar details, long enough to wrap: an event is two or three lines on the screen.
  for (let i = 0; i < DECISIONS; i++) {
    await appendEvent(s, {
      atMs: nowMs - 3_600_000 + i * 60_000, type: i % 3 === 0 ? 'auth_failed' : 'refreshed', number: '1002', source: '10.1.2.11:5062',
      userAgent: 'Yealink SIP-T46S 66.86.0.20',
      detail: i % 3 === 0 ? '403 Forbidden: digest response for user 1002 did not match (wrong password)'
        : `200 OK: refreshed sip:1002@10.1.2.11:5062 for 3600 s (asked 3600 s by Expires) #${i}`,
    });
  }
  await s.trunks.put('carrier-a', {
    name: 'carrier-a', state: 'retry_wait', lastStatus: 403, grantedExpiresS: null, lastSuccessAtMs: null, failureCount: 3,
    lastReason: 'forbidden: 403 Forbidden (account or credentials refused by the upstream) [ALERT: 3 credential failures in a row]',
    nextActionAtMs: nowMs + 60_000, registrar: '127.0.0.1:5060', contact: 'sip:4420@127.0.0.1:15999', updatedAtMs: nowMs,
    credentialFailures: 3, downSinceMs: nowMs - 600_000,
  });
});

const term = new TmuxConsole('screens');
t.teardown(() => term.close());

/** No line wider than 80, and none cut by the renderer at 80 (a `~` in the last column). */
function fitsUncut(t: Test, s: string, what: string): void {
  t.same(s.split('\n').filter((l) => l.length > 80 || (l.length === 80 && l.endsWith('~'))), [], `${what}: every line fits, none cut`);
}

/** The body of a paged screen: between the title line and the menu. */
function bodyOf(s: string, menu: RegExp): string[] {
  const lines = s.split('\n');
  const title = lines.findIndex((l) => l.startsWith('== '));
  const end = lines.findIndex((l, i) => i > title && menu.test(l));
  return lines.slice(title + 1, end);
}

t.test('Why: pages say where 8 and 9 go, and never split an event', async (t) => {
  term.start(env.configFile, env.dataDir);
  await term.waitFor(/Choice:/);
  term.type('3');
  await term.waitFor(/Number \(0 = cancel\)/);
  term.type('1002');
  let s = await term.waitFor(/== Why: 1002 ==[\s\S]*Choice:/);
  const pages = Number(/page 1\/(\d+)/.exec(s)?.[1]);
  t.ok(pages >= 3, `paged (${pages} pages)`);
  t.match(s, /== Why: 1002 == +page 1\/\d+  8 older\n/, 'the first page: only 8 goes somewhere, to older events');
  const seen: string[] = [];
  for (let p = 1; p <= pages; p++) {
    if (p > 1) {
      term.type('8');
      s = await term.waitFor(new RegExp(`page ${p}/${pages}[\\s\\S]*Choice:`));
    }
    fitsUncut(t, s, `Why page ${p}`);
    if (p > 1 && p < pages) t.match(s, new RegExp(`page ${p}/${pages}  8 older  9 newer\\n`), `page ${p}: both keys named`);
    if (p === pages) t.match(s, new RegExp(`page ${p}/${pages}  9 newer\\n`), 'the last page: only 9, to newer events');
    const body = bodyOf(s, /^Enter refresh/);
    const firstEvent = body.findIndex((l) => /^\d{4}-\d\d-\d\d /.test(l));
    if (p > 1) t.equal(firstEvent, 0, `page ${p} starts with an event, not the rest of one`);
    const last = body.at(-1)!;
    t.notOk(/^\d{4}-\d\d-\d\d /.test(last), `page ${p} does not end on an event's first line (its detail is on the same page)`);
    seen.push(...body.filter((l) => /^\d{4}-\d\d-\d\d /.test(l)));
  }
  t.equal(seen.filter((l) => / 1002 /.test(l)).length, DECISIONS, 'every decision shown once over the pages');
  term.type('9');
  s = await term.waitFor(new RegExp(`page ${pages - 1}/${pages}`));
  t.pass('9 goes back to newer events');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);
});

t.test('the Details prompt, Areas, and the details of cut rows', async (t) => {
  term.type('1');
  await term.waitFor(/== Registrations ==/);
  term.type('6');
  let s = await term.waitFor(/Details of number \(0 = cancel\)/);
  t.match(s, /== Registrations: details ==/, 'the Details prompt has its own title (not the filter\'s)');
  t.notMatch(s, /Filter in force/);
  term.type('0');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);

  term.type('5');
  await term.waitFor(/== Analysis ==/);
  term.type('6');
  s = await term.waitFor(/== Areas/);
  t.match(s, /~ = not in a configured area \(areas:\), grouped by its \/24 \(IPv4\) or \/64 \(IPv6\)/, 'the ~ is explained');
  t.match(s, /~ 198\.51\.100\.0\/24 /);
  fitsUncut(t, s, 'Areas');
  term.type('0');
  term.type('7');
  s = await term.waitFor(/== Failed registrations/);
  t.match(s, /\n *\d+ [\d-]+ [\d:]+ 1002 +10\.1\.2\.11:5062 +wrong password \(403\)\n/, 'failures lead with the operator\'s words');
  fitsUncut(t, s, 'Failed registrations');
  term.type('0');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);

  term.type('7');
  s = await term.waitFor(/== Trunks ==[\s\S]*Choice:/);
  t.match(s, /\ncarrier-a +retry_wait +forbidden \(403\) /, 'the trunk row: operator words, then the status');
  term.type('2');
  await term.waitFor(/Trunk # or name/);
  term.type('carrier-a');
  s = await term.waitFor(/== Trunk: carrier-a ==[\s\S]*Choice:/);
  fitsUncut(t, s, 'Trunk details');
  t.match(s, /Last reason +forbidden: 403 Forbidden \(account or credentials refused by the\s+upstream\) \[ALERT: 3 credential failures in a row\]/, 'the last reason in full');
  t.match(s, /Last answer +forbidden \(403\)/);
  t.match(s, /Next action +in \d+s \(\d{4}-/, 'the next action');
  t.match(s, /Check +the upstream refuses our credentials: compare auth_user "4420"/, 'the credentials check hint');
  term.type('0');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);

  term.type('6');
  s = await term.waitFor(/== Lockouts ==[\s\S]*Choice:/);
  t.match(s, /pair +1009 from 198\.51\.100\.99 .* wrong password x6\n/);
  term.type('2');
  await term.waitFor(/# \(0 = cancel\)/);
  term.type('1');
  s = await term.waitFor(/== Lockout: 1009 from 198\.51\.100\.99 ==[\s\S]*Choice:/);
  fitsUncut(t, s, 'Lockout details');
  t.match(s, /Reason +SS_ENDPOINT_REGISTER_RETRY exceeded/);
  t.match(s, /Lift it +sipreg unlock 1009/);
  term.type('0');
  term.type('0');
  await term.waitFor(/== sipreg console ==/);
});

t.test('no menu or help line is cut, on any screen', async (t) => {
  const tour: [string, RegExp][] = [
    ['1', /== Registrations ==/], ['1', /Number \(1001/], ['0', /== Registrations/], ['0', /== sipreg console/],
    ['2', /Number \(0 = cancel\)/], ['0', /== sipreg console/], ['4', /File \(Enter = default/], ['0', /== sipreg console/],
    ['5', /== Analysis/], ['1', /last hour/], ['0', /== Analysis/], ['4', /== Rates/], ['0', /== Analysis/], ['0', /== sipreg console/],
    ['8', /== Parameters in force/], ['0', /== sipreg console/],
    ['9', /== Event log/], ['2', /Type\(s\), comma-separated/], ['0', /== Event log/], ['0', /== sipreg console/],
  ];
  for (const [key, what] of tour) {
    term.type(key);
    const s = await term.waitFor(new RegExp(`${what.source}[\\s\\S]*: $`, 'm'));
    fitsUncut(t, s, `after ${key}`);
  }
  term.type('q');
  t.match(await term.waitFor(/EXIT=\d+/), /EXIT=0/);
  term.killSession();
});
