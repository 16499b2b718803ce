// README's walkthrough, run as written against the real binary, so README cannot drift from sipreg.
// The steps come from between `<!-- walkthrough:begin -->` and `<!-- walkthrough:end -->`: in its ```sh
// blocks, `$ command` is a step, `> text` a line typed into it, any other line something its output must
// show (`...` stands for anything). The config is the example (etc/sipreg.yaml), as `make install` puts
// it, with a free port instead of 5060 and a temp data_dir; commands find it through $SIPREG_CONFIG, as
// they would find /etc/sipreg/sipreg.yaml, and `sipreg` on PATH is the built binary.
// One step needs root on a host, so the test runs its equivalent instead (listed in AS_ROOT).
import t from 'tap';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitOf, freeUdpPort, sipregShell, spawnSipreg, tmpDir, waitForLine } from '../helpers/sipreg.js';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const example = readFileSync(new URL('etc/sipreg.yaml', root), 'utf8');

interface Step { command: string; input: string[]; shows: string[] }

export function walkthroughSteps(text: string): Step[] {
  const begin = text.indexOf('<!-- walkthrough:begin -->');
  const end = text.indexOf('<!-- walkthrough:end -->');
  if (begin < 0 || end < begin) return [];
  const steps: Step[] = [];
  let inBlock = false;
  for (const line of text.slice(begin, end).split('\n')) {
    if (line.startsWith('```')) { inBlock = !inBlock; continue; }
    if (!inBlock || line.trim() === '') continue;
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), input: [], shows: [] });
    else if (line.startsWith('> ')) steps.at(-1)?.input.push(line.slice(2));
    else steps.at(-1)?.shows.push(line);
  }
  return steps;
}

/** A shown line as a pattern for one output line: `...` is anything, the rest literal. */
function linePattern(shown: string): RegExp {
  const parts = shown.split('...').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('.*')}$`, 'm');
}

t.test('README has a walkthrough with the steps an installer takes', async (t) => {
  const commands = walkthroughSteps(readme).map((s) => s.command.split(' ').slice(0, 2).join(' '));
  t.same(commands, ['sipreg check', 'sudo systemctl', 'sipsak -U', 'sipreg list', 'sipreg show', 'sipreg events', 'sipreg console']);
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
  const env = { ...process.env, SIPREG_CONFIG: configFile, PATH: `${bin}:${process.env['PATH'] ?? ''}` };

  let service: ChildProcess | null = null;
  t.teardown(async () => { if (service !== null && service.exitCode === null) { service.kill('SIGTERM'); await exitOf(service); } });
  const AS_ROOT: Record<string, () => Promise<void>> = {
    // On a host, systemd starts `sipreg run` with the installed config: here the same, as this user.
    'sudo systemctl enable --now sipreg': async () => {
      service = spawnSipreg(['run'], { SIPREG_CONFIG: configFile });
      await waitForLine(service, (l) => l.includes('sipreg started'));
    },
  };

  const steps = walkthroughSteps(readme);
  t.ok(steps.length >= 7, 'the walkthrough has its steps');
  for (const step of steps) {
    const command = step.command.replaceAll(':5060', `:${port}`);
    const asRoot = AS_ROOT[command];
    if (asRoot !== undefined) {
      await asRoot();
      t.pass(`$ ${step.command} (run as: sipreg run)`);
      continue;
    }
    const r = spawnSync('sh', ['-c', command], {
      env, encoding: 'utf8', timeout: 30_000, input: step.input.map((l) => `${l}\n`).join(''),
    });
    t.equal(r.status, 0, `$ ${step.command}: exit 0 (stderr: ${r.stderr.trim().slice(0, 300)})`);
    for (const shown of step.shows) {
      t.match(r.stdout, linePattern(shown), `$ ${step.command} shows: ${shown}`);
    }
  }
});
