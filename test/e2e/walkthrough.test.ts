// README's walkthrough, run as written against the real binary, sipsak and a Kamailio, so README cannot
// drift from sipreg. The steps come from between `<!-- walkthrough:begin -->` and `<!-- walkthrough:end -->`:
// - in its ```sh blocks, `$ command` is a step (run by sh, exit 0 expected; a command ending in
//   `# fails...` must fail instead, and one ending in `# a few seconds later` is run again, for up to
//   15 s, until its output shows what README shows), `> text` a line typed into it, any other line
//   something its output must show (`...` stands for anything);
// - a ```yaml block whose first line is `# FILE, under KEY:` is an edit: its other lines go below the
//   line `KEY:` of FILE, as an installer adds them with an editor.
// The config is the example (etc/sipreg.yaml), as `make install` puts it, with a free port instead of
// 5060 and a temp data_dir; commands find it through $SIPREG_CONFIG, as they would find
// /etc/sipreg/sipreg.yaml (that path in a command is the test's copy), and `sipreg` on PATH is the built
// binary. The provider of the trunk step is a Kamailio (apt) on a free port instead of 5070, with the
// password README's trunk has. Steps needing root on a host run as this user, who owns the test's config
// (`sudo ` dropped), but systemctl, which runs its equivalent instead (listed in AS_ROOT).
import t from 'tap';
import { spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { exitOf, freeUdpPort, sipregShell, spawnSipreg, tmpDir, waitForLine } from '../helpers/sipreg.js';
import { Kamailio } from '../trunk/kamailio.js';
import { sleep } from '../helpers/wait.js';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const example = readFileSync(new URL('etc/sipreg.yaml', root), 'utf8');

interface Run { kind: 'run'; command: string; fails: boolean; later: boolean; input: string[]; shows: string[] }
interface Edit { kind: 'edit'; file: string; under: string; lines: string[] }
type Step = Run | Edit;

export function walkthroughSteps(text: string): Step[] {
  const begin = text.indexOf('<!-- walkthrough:begin -->');
  const end = text.indexOf('<!-- walkthrough:end -->');
  if (begin < 0 || end < begin) return [];
  const steps: Step[] = [];
  let block: 'sh' | 'yaml' | 'other' | null = null;
  for (const line of text.slice(begin, end).split('\n')) {
    if (line.startsWith('```')) {
      const lang = line.slice(3).trim();
      block = block !== null ? null : lang === 'sh' ? 'sh' : lang === 'yaml' ? 'yaml' : 'other';
      continue;
    }
    if (block === 'yaml') {
      const last = steps.at(-1);
      const head = /^# (\S+), under (\w+):$/.exec(line);
      if (head !== null) steps.push({ kind: 'edit', file: head[1]!, under: head[2]!, lines: [] });
      else if (last?.kind === 'edit') last.lines.push(line);
      continue;
    }
    if (block !== 'sh' || line.trim() === '') continue;
    const last = steps.at(-1);
    if (line.startsWith('$ ')) {
      const command = line.slice(2);
      steps.push({ kind: 'run', command, fails: /#\s*fails\b/.test(command), later: /#\s*a few seconds later$/.test(command), input: [], shows: [] });
    } else if (last?.kind !== 'run') continue;
    else if (line.startsWith('> ')) last.input.push(line.slice(2));
    else last.shows.push(line);
  }
  return steps;
}

const steps = walkthroughSteps(readme);
const runs = steps.filter((s): s is Run => s.kind === 'run');

/** A shown line as a pattern for one output line: `...` is anything, the rest literal. */
function linePattern(shown: string): RegExp {
  const parts = shown.split('...').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 'm');
}

/** What a step is, in a few words: the first two words of a command, or the edit's file and key. */
const label = (s: Step): string => (s.kind === 'edit' ? `edit ${s.file} ${s.under}`
  : `${s.command.split(' ').slice(0, 2).join(' ')}${s.fails ? ' (fails)' : ''}${s.later ? ' (later)' : ''}`);

t.test('README has a walkthrough with the steps an installer takes', async (t) => {
  t.same(steps.map(label), [
    'sipreg check', 'sudo systemctl',
    'cp /etc/sipreg/sipreg.yaml', 'edit new.yaml accounts', 'sudo sipreg',
    'sipsak -U (fails)', 'sipreg console', 'sipsak -U',
    'sipreg list', 'sipreg show', 'sipreg events', 'sipreg console',
    'edit new.yaml trunks', 'sudo sipreg', 'sipreg trunks (later)',
  ]);
  // What each part is there to show, so no step can lose its point and still pass.
  const failing = runs.find((s) => s.fails)!;
  t.notMatch(failing.command, / -u /, 'the failing sipsak line is the guides\' one, without -u');
  const why = runs.find((s) => s.input.includes('3'));
  t.ok(why?.shows.some((l) => l.includes('sipsak needs -u 1003')), 'the console\'s Why shows the explanation of the 403');
  t.match(runs.filter((s) => s.command.startsWith('sipsak')).at(-1)?.command, / -u 1003 .* -x 600$/, 'the line that works');
  t.ok(runs.find((s) => s.command === 'sipreg list')?.shows.some((l) => l.startsWith('1003 ')), 'list shows the phone added by config');
  t.ok(runs.find((s) => s.input.includes('1'))?.shows.some((l) => l.startsWith('1003 ')), 'so does the console');
  t.ok(runs.find((s) => s.command.startsWith('sipreg trunks'))?.shows.some((l) => /^provider .*registered/.test(l)), 'trunks shows the trunk registered');
});

t.test('the walkthrough, step by step', async (t) => {
  const port = await freeUdpPort();
  const dir = tmpDir('sipreg-walkthrough-');
  const configFile = join(dir, 'sipreg.yaml');
  const config = example
    .replace(/^(\s*listen: ).*$/m, `$1["127.0.0.1:${port}"]`)
    .replace(/^data_dir: .*$/m, `data_dir: ${join(dir, 'data')}`);
  t.not(config, example, 'the example config has the listen and data_dir lines the test replaces');
  writeFileSync(configFile, config);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'sipreg'), `#!/bin/sh\nexec ${sipregShell()} "$@"\n`);
  chmodSync(join(bin, 'sipreg'), 0o755);
  // The installer's own directory, where new.yaml is made.
  const home = join(dir, 'home');
  mkdirSync(home);
  const env = { ...process.env, SIPREG_CONFIG: configFile, PATH: `${bin}:${process.env['PATH'] ?? ''}` };

  // The provider: a Kamailio with the password of README's trunk.
  const trunk = steps.find((s): s is Edit => s.kind === 'edit' && s.under === 'trunks');
  const provider = (parse(trunk?.lines.join('\n') ?? '') as { password?: string; port?: number }[] | null)?.[0];
  t.equal(provider?.port, 5070, 'README\'s provider listens on 5070');
  const kamPort = await freeUdpPort();
  const kam = new Kamailio({ port: kamPort, password: provider?.password ?? '', minExpiresS: 10, maxExpiresS: 3600, algorithm: 'MD5' });
  await kam.start();

  let service: ChildProcess | null = null;
  let log = '';
  t.teardown(async () => {
    if (service !== null && service.exitCode === null) { service.kill('SIGTERM'); await exitOf(service); }
    await kam.dispose();
  });
  const AS_ROOT: Record<string, () => Promise<void>> = {
    // On a host, systemd starts `sipreg run` with the installed config: here the same, as this user.
    'sudo systemctl enable --now sipreg': async () => {
      const child = spawnSipreg(['run'], { SIPREG_CONFIG: configFile });
      service = child;
      const started = waitForLine(child, (l) => l.includes('sipreg started'));
      child.stdout?.on('data', (b: Buffer) => { log += b.toString(); });
      await started;
    },
  };

  t.ok(steps.length >= 15, 'the walkthrough has its steps');
  for (const step of steps) {
    if (step.kind === 'edit') {
      const file = join(home, step.file);
      const text = readFileSync(file, 'utf8');
      const at = new RegExp(`^${step.under}:.*\\n`, 'm').exec(text);
      t.ok(at !== null, `${step.file} has a line ${step.under}:`);
      const added = step.lines.join('\n').replaceAll('port: 5070', `port: ${kamPort}`);
      const end = at!.index + at![0].length;
      writeFileSync(file, `${text.slice(0, end)}${added}\n${text.slice(end)}`);
      t.pass(`edited ${step.file}: under ${step.under}:`);
      continue;
    }
    const command = step.command
      .replaceAll(':5060', `:${port}`)
      .replaceAll('/etc/sipreg/sipreg.yaml', configFile);
    const asRoot = AS_ROOT[command];
    if (asRoot !== undefined) {
      await asRoot();
      t.pass(`$ ${step.command} (run as: sipreg run)`);
      continue;
    }
    const run = (): SpawnSyncReturns<string> => spawnSync('sh', ['-c', command.replace(/^sudo /, '')], {
      cwd: home, env, encoding: 'utf8', timeout: 60_000, input: step.input.map((l) => `${l}\n`).join(''),
    });
    let r = run();
    for (const deadline = Date.now() + 15_000; step.later && Date.now() < deadline && !step.shows.every((l) => linePattern(l).test(r.stdout));) {
      await sleep(500);
      r = run();
    }
    const why = `\nstdout: ${r.stdout.slice(-1500)}\nstderr: ${r.stderr.trim().slice(-500)}\nservice log: ${log.slice(-1500)}`;
    const exited = step.fails ? r.status !== null && r.status !== 0 : r.status === 0;
    t.ok(exited, `$ ${step.command}: exit ${r.status}${step.fails ? ' (it fails, as README says)' : ''}${exited ? '' : why}`);
    for (const shown of step.shows) {
      const seen = linePattern(shown).test(r.stdout);
      t.ok(seen, `$ ${step.command} shows: ${shown}${seen ? '' : why}`);
    }
  }
  const user = (trunk?.lines.join('\n').match(/username: "(\d+)"/) ?? [])[1] ?? '';
  t.equal((await kam.contacts(user)).length, 1, `Kamailio's location table holds the trunk's contact (user ${user})`);

  // Issue 16 item 11, on the example's trunk, which stays disabled: not announced as starting, and
  // shown with the registrar its config names.
  const logLines = log.split('\n');
  t.ok(logLines.some((l) => l.includes('trunks disabled in the config: not registering') && l.includes('carrier-a')), 'the log says carrier-a is disabled');
  t.notOk(logLines.some((l) => l.includes('trunk registrations starting') && l.includes('carrier-a')), 'and does not announce it as starting');
  const carrier = spawnSync('sh', ['-c', 'sipreg trunks carrier-a'], { cwd: home, env, encoding: 'utf8', timeout: 60_000 });
  t.equal(carrier.status, 0, carrier.stderr);
  t.match(carrier.stdout, /^State +disabled\b/m);
  t.match(carrier.stdout, /^Registrar +sip\.carrier\.example\b/m, 'sipreg trunks carrier-a shows its configured registrar');
});
