/**
 * The operator's day (issue 16), driven through the real binary the way an installer does it: one service
 * per data_dir, a data_dir deleted under the service, admin commands while the config is mid-edit, where
 * the config is found, the check/events/log/help niceties.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import {
  exitOf, freeUdpPort, repoRoot, runSipreg, sipregCommand, sipregShell, spawnSipreg, tmpDir, waitForLine, writeConfig,
} from '../helpers/sipreg.js';
import { SipClient } from '../registrar/sipclient.js';

const config = (port: number): string => `
sip:
  listen: ["127.0.0.1:${port}"]
  realm: "test"
data_dir: "@DATA@"
accounts:
  - number: "1001"
    auth_mode: ip
    allow: ["127.0.0.0/8"]
`;

const logged = (msg: string) => (line: string): boolean => line.includes(`"msg":"${msg}"`);

/** `sipreg ARGS` in `cwd` with exactly `env` added to a PATH-only environment (no SIPREG_CONFIG leaks in). */
function sipregIn(args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; input?: string }): { status: number | null; stdout: string; stderr: string } {
  const { file, prefix } = sipregCommand();
  return spawnSync(file, [...prefix, ...args], {
    cwd: opts.cwd, encoding: 'utf8', timeout: 60_000, input: opts.input ?? '',
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...opts.env },
  });
}

async function startService(t: Test, file: string, args: string[] = []): Promise<ChildProcess> {
  const child = spawnSipreg(['run', '-c', file, ...args]);
  t.teardown(() => { child.kill('SIGKILL'); });
  await waitForLine(child, logged('sipreg started'));
  return child;
}

async function registered(port: number, user = '1001'): Promise<number> {
  const client = await SipClient.open(port);
  try {
    return (await client.register({ user, expires: 600 })).status;
  } finally {
    client.close();
  }
}

t.test('a second service on one data_dir refuses to start naming the first; admin commands still work; a crash does not block a restart', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(config(port));
  const dataDir = join(dirname(file), 'data');
  const pidFile = join(dataDir, 'service.pid');
  const first = await startService(t, file);
  t.match(readFileSync(pidFile, 'utf8'), new RegExp(`^${first.pid} \\d+\\n$`), 'the pid file names the service');

  // Another port, so it is the data_dir and not the socket that stops the second one.
  const file2 = join(dirname(file), 'second.yaml');
  writeFileSync(file2, readFileSync(file, 'utf8').replace(`127.0.0.1:${port}`, `127.0.0.1:${await freeUdpPort()}`));
  const second = runSipreg(['run', '-c', file2], { timeoutMs: 30_000 });
  t.equal(second.status, 1, 'exit 1');
  t.equal(second.stderr, `sipreg: data_dir ${dataDir} is in use by sipreg pid ${first.pid}; one service per data_dir (stop it first, or use another data_dir)\n`);
  t.equal(second.stdout, '', 'it never started: no log line');
  t.match(readFileSync(pidFile, 'utf8'), new RegExp(`^${first.pid} `), 'the first keeps its pid file');

  t.equal(await registered(port), 200, 'the first still answers');
  const list = runSipreg(['list', '--json', '-c', file]);
  t.equal(list.status, 0, 'list works beside the service');
  t.same((JSON.parse(list.stdout) as { number: string }[]).map((b) => b.number), ['1001']);
  const stats = JSON.parse(runSipreg(['stats', '--json', '-c', file]).stdout) as { service: { running: boolean; pid: number } };
  t.match(stats.service, { running: true, pid: first.pid });
  const consoleRun = runSipreg(['console', '-c', file], { input: 'q\n' });
  t.equal(consoleRun.status, 0, 'the console opens and quits');
  t.match(consoleRun.stdout, /Choice:/);

  // Killed with no chance to clean up: the file stays, and names a dead process.
  first.kill('SIGKILL');
  await exitOf(first);
  t.ok(existsSync(pidFile), 'SIGKILL leaves the pid file behind');
  const third = await startService(t, file);
  t.match(readFileSync(pidFile, 'utf8'), new RegExp(`^${third.pid} \\d+\\n$`), 'the restart took the stale file over');
  third.kill('SIGTERM');
  t.equal((await exitOf(third)).code, 0);
  t.notOk(existsSync(pidFile), 'a clean stop removes the pid file');

  // PID reuse: a live process (this test) with a start time that is not its own is not the holder.
  writeFileSync(pidFile, `${process.pid} 1\n`);
  const fourth = await startService(t, file);
  t.match(readFileSync(pidFile, 'utf8'), new RegExp(`^${fourth.pid} `));
  fourth.kill('SIGTERM');
  t.equal((await exitOf(fourth)).code, 0);
});

t.test('data_dir deleted under the running service: error logged, REGISTER answered 503, exit 1; admin commands create nothing', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(config(port));
  const dataDir = join(dirname(file), 'data');
  const child = await startService(t, file);
  t.equal(await registered(port), 200, 'registered while the store is there');

  const lost = waitForLine(child, logged('data_dir lost: answering 503 and exiting for a restart'), 15_000);
  rmSync(dataDir, { recursive: true });
  const line = JSON.parse(await lost) as { level: number; reason: string };
  t.equal(line.level, 50, 'logged as an error');
  t.match(line.reason, /data\.mdb is gone .*deleted or moved/);
  const client = await SipClient.open(port);
  const answer = await client.register({ user: '1001', expires: 600 });
  client.close();
  t.equal(answer.status, 503, 'a REGISTER after that is refused, not confirmed into a deleted store');
  t.ok(answer.header('retry-after') !== undefined, 'with Retry-After');
  t.equal((await exitOf(child)).code, 1, 'exits 1, for systemd to restart it');

  for (const command of ['list', 'stats', 'events', 'trunks', 'lockouts', 'console']) {
    const r = runSipreg([command, '-c', file], { input: 'q\n' });
    t.equal(r.status, 1, `${command}: exit 1`);
    t.equal(r.stderr, `sipreg ${command}: ERR_CLI_NO_STORE: no store at ${dataDir}: the service has never run there\n`);
  }
  t.notOk(existsSync(dataDir), 'and no empty store was created');
});

t.test('reading commands work while the config on disk is invalid; check names the problem; writing commands refuse', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(config(port));
  const dataDir = join(dirname(file), 'data');
  const child = await startService(t, file);
  t.equal(await registered(port), 200);
  // Halfway through an edit: a tab-indented line.
  writeFileSync(file, `${readFileSync(file, 'utf8')}  - number: "1002"\n\tauth_mode: ip\n`);
  const check = runSipreg(['check', '-c', file]);
  t.equal(check.status, 1);
  t.equal(check.stderr, `${file}:11:1: accounts[1].auth_mode: YAML: Tabs are not allowed as indentation\n`, 'the tab error names the key on the tabbed line');
  const warning = `sipreg list: warning: ${file} has 1 problem (see sipreg check -c ${file}); reading the store in ${dataDir} anyway\n`;
  const list = runSipreg(['list', '-c', file]);
  t.equal(list.status, 0);
  t.match(list.stdout, /^1001 /m);
  t.equal(list.stderr, warning, 'one warning, pointing to sipreg check');
  for (const args of [['show', '1001'], ['events'], ['stats'], ['lockouts'], ['trunks']]) {
    const r = runSipreg([...args, '-c', file]);
    t.equal(r.status, 0, `${args[0]} works`);
    // The warning once, first; a command that shows the config in force may add its own note after it.
    const own = warning.replace('sipreg list', `sipreg ${args[0]}`);
    t.ok(r.stderr.startsWith(own), `${args[0]} warns first`);
    t.equal(r.stderr.split(own).length - 1, 1, `${args[0]} warns once`);
  }
  t.match(runSipreg(['show', '1001', '-c', file]).stdout, /Number +1001/);
  const unregister = runSipreg(['unregister', '1001', '-c', file]);
  t.equal(unregister.status, 1, 'a writing command still needs a valid config');
  t.match(unregister.stderr, /invalid configuration \(1 problem\)\n$/);

  // data_dir itself broken: the store cannot be told, unless --data-dir names it.
  writeFileSync(file, config(port).replace('data_dir: "@DATA@"', 'data_dir: [1, 2]'));
  const blind = runSipreg(['list', '-c', file]);
  t.equal(blind.status, 1);
  t.equal(blind.stderr, `sipreg list: ERR_CLI_CONFIG_INVALID: ${file}: data_dir has a problem (see sipreg check -c ${file}); name the store with --data-dir DIR\n`);
  const named = runSipreg(['list', '--json', '-c', file, '--data-dir', dataDir]);
  t.equal(named.status, 0);
  t.same((JSON.parse(named.stdout) as { number: string }[]).map((b) => b.number), ['1001']);
  child.kill('SIGTERM');
  t.equal((await exitOf(child)).code, 0);
});

t.test('config discovery: -c, $SIPREG_CONFIG, ./sipreg.yaml, then /etc/sipreg; a missing file says where it looked', async (t) => {
  t.notOk(existsSync('/etc/sipreg/sipreg.yaml'), 'precondition: this machine has no installed config');
  const port = await freeUdpPort();
  const file = writeConfig(config(port));
  const dir = dirname(file);
  const child = await startService(t, file);
  t.equal(await registered(port), 200);
  const empty = tmpDir();

  const inDir = sipregIn(['list', '--json'], { cwd: dir });
  t.equal(inDir.status, 0, 'sipreg.yaml in the working directory');
  t.same((JSON.parse(inDir.stdout) as { number: string }[]).map((b) => b.number), ['1001']);
  const fromEnv = sipregIn(['list', '--json'], { cwd: empty, env: { SIPREG_CONFIG: file } });
  t.equal(fromEnv.status, 0, '$SIPREG_CONFIG');
  t.equal((JSON.parse(fromEnv.stdout) as unknown[]).length, 1);
  const otherYaml = join(empty, 'sipreg.yaml');
  writeFileSync(otherYaml, config(port).replace('"@DATA@"', JSON.stringify(join(empty, 'nothing-here'))));
  const precedence = sipregIn(['list', '--json'], { cwd: empty, env: { SIPREG_CONFIG: file } });
  t.equal(precedence.status, 0, '$SIPREG_CONFIG before ./sipreg.yaml');
  t.equal((JSON.parse(precedence.stdout) as unknown[]).length, 1);
  rmSync(otherYaml);

  for (const command of ['trunks', 'list', 'check', 'run']) {
    const none = sipregIn([command], { cwd: empty });
    t.equal(none.status, 1, `${command}: exit 1`);
    t.equal(none.stderr, `sipreg ${command}: ERR_CLI_NO_CONFIG: no config at /etc/sipreg/sipreg.yaml (looked in: ${join(empty, 'sipreg.yaml')}, /etc/sipreg/sipreg.yaml; name one with -c FILE or $SIPREG_CONFIG)\n`);
  }
  const named = sipregIn(['list', '-c', join(empty, 'gone.yaml')], { cwd: empty });
  t.equal(named.stderr, `sipreg list: ERR_CLI_NO_CONFIG: no config at ${join(empty, 'gone.yaml')} (from -c)\n`);
  const envNamed = sipregIn(['stats'], { cwd: empty, env: { SIPREG_CONFIG: join(empty, 'gone.yaml') } });
  t.equal(envNamed.stderr, `sipreg stats: ERR_CLI_NO_CONFIG: no config at ${join(empty, 'gone.yaml')} (from $SIPREG_CONFIG)\n`);
  child.kill('SIGTERM');
  t.equal((await exitOf(child)).code, 0);
});

t.test('make run prints the next commands once, and they work as printed (list; sipsak registers phone 1001)', async (t) => {
  const port = await freeUdpPort();
  const dir = tmpDir();
  // The shipped example config, on a free loopback port (make run's own default is 5060).
  const configFile = join(dir, 'sipreg.yaml');
  writeFileSync(configFile, readFileSync(join(repoRoot, 'etc/sipreg.yaml'), 'utf8').replace(/^ {2}listen: .*$/m, `  listen: ["127.0.0.1:${port}"]`));
  const data = join(dir, 'var');
  const make = spawn('make', ['-s', '-o', 'build', '-o', 'deps', 'run', `CONFIG=${configFile}`, `DATA=${data}`], {
    cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  t.teardown(() => { try { process.kill(-make.pid!, 'SIGKILL'); } catch { /* gone */ } });
  let out = '';
  make.stdout.on('data', (b: Buffer) => { out += b.toString(); });
  await waitForLine(make, logged('sipreg started'));
  const hints = out.split('\n').filter((l) => l.startsWith('  '));
  t.same(hints.map((l) => l.trim().split(/ +/).slice(0, 2).join(' ')), ['dist/sipreg list', 'dist/sipreg console', 'sipsak -U']);
  t.equal(out.split('\n').filter((l) => l.includes('In another terminal')).length, 1, 'printed once');

  const words = (line: string): string[] => line.replace(/#.*$/, '').trim().split(/ +/);
  const sipsak = words(hints[2]!).map((w) => w.replace('sip:1001@127.0.0.1', `sip:1001@127.0.0.1:${port}`));
  const reg = spawnSync(sipsak[0]!, sipsak.slice(1), { encoding: 'utf8', timeout: 30_000 });
  t.equal(reg.status, 0, `sipsak registers: ${reg.stdout}${reg.stderr}`);
  const list = words(hints[0]!);
  t.equal(list[0], 'dist/sipreg');
  const shown = runSipreg(list.slice(1));
  t.equal(shown.status, 0, 'the list line works as printed');
  t.match(shown.stdout, /^1001 .*Customer_A/m, 'and shows the phone sipsak registered');
  process.kill(-make.pid!, 'SIGTERM');
  // The service's own stop deadline is 35 s (a trunk un-REGISTER to the example's unresolvable carrier,
  // the final flush); make exits after it. This test is about the hints, not the stop's speed.
  await exitOf(make, 60_000);
});

t.test('check prints OK with the counts; range errors read like the config comments', async (t) => {
  const file = writeConfig(`${config(await freeUdpPort())}trunks:\n  - { name: up, registrar: 127.0.0.1, username: "4420", password: "pw-1234" }\n`);
  const ok = runSipreg(['check', '-c', file]);
  t.equal(ok.status, 0);
  t.equal(ok.stdout, 'OK: 1 account, 1 trunk\n');
  t.equal(ok.stderr, '');
  writeFileSync(file, `${config(await freeUdpPort())}params:\n  SS_SIP_USER_AGENT_RETRY_DELAY: 5\n  SS_ENDPOINT_NAT_KEEPALIVE: 2\n`);
  const bad = runSipreg(['check', '-c', file]);
  t.equal(bad.status, 1);
  t.equal(bad.stdout, '');
  t.match(bad.stderr, /params\.SS_SIP_USER_AGENT_RETRY_DELAY: must be 30\.\.600\. Received 5\n/);
  t.match(bad.stderr, /params\.SS_ENDPOINT_NAT_KEEPALIVE: must be 0 \(off\) or 5\.\.600\. Received 2\n/);
});

t.test('events --since takes ages, today and yesterday as well as ISO 8601', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(config(port));
  const child = await startService(t, file);
  t.equal(await registered(port), 200);
  child.kill('SIGTERM');
  t.equal((await exitOf(child)).code, 0);
  const types = (since: string): string[] => {
    const r = runSipreg(['events', '--json', '--since', since, '-c', file]);
    t.equal(r.status, 0, since);
    return (JSON.parse(r.stdout) as { type: string }[]).map((e) => e.type);
  };
  const all = types('2000-01-01T00:00:00Z');
  t.ok(all.includes('registered') && all.includes('service_started'), `the run left events: ${all.join(' ')}`);
  for (const since of ['15m', '2h', '1d', '90s', 'today', 'yesterday']) t.same(types(since), all, `--since ${since}`);
  t.same(types('2999-01-01T00:00:00Z'), []);
  const bad = runSipreg(['events', '--since', 'fortnight', '-c', file]);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /^sipreg events: ERR_CLI_OPTION_VALUE: option '--since' must be like 15m, 2h, 1d, today, yesterday or 2026-05-01T12:00:00Z\. Received 'fortnight'\n/);
});

t.test('history right after the answer: events asked again within 5 s, and the console\'s Why, show the registration just made', async (t) => {
  const port = await freeUdpPort();
  // The default SS_STORE_FLUSH_INTERVAL (30 s): only the asks flush within this test.
  const more = ['1002', '1003'].map((n) => `  - number: "${n}"\n    auth_mode: ip\n    allow: ["127.0.0.0/8"]\n`).join('');
  const file = writeConfig(`${config(port)}${more}`);
  const child = await startService(t, file);
  t.equal(await registered(port, '1001'), 200);
  const firstAt = Date.now();
  const first = runSipreg(['events', '--type', 'registered', '-c', file]);
  t.match(first.stdout, /registered +1001 /, 'the first ask shows the registration');
  t.equal(await registered(port, '1002'), 200);
  const secondAt = Date.now();
  const second = runSipreg(['events', '--type', 'registered', '-c', file]);
  // The case under test needs the second ask inside the first one's 5 s (it is, but on a machine crawling).
  t.comment(`second ask ${secondAt - firstAt} ms after the first; it took ${Date.now() - secondAt} ms`);
  t.match(second.stdout, /registered +1002 /, 'the second ask shows the registration answered after the first (the flush waited, it was not skipped)');
  t.match(second.stdout, /registered +1001 /);

  // The console's Why (3, a number) asks the same way.
  t.equal(await registered(port, '1003'), 200);
  const why = runSipreg(['console', '-c', file], { input: '3\n1003\n0\n0\n' });
  t.equal(why.status, 0);
  t.match(why.stdout, /== Why: 1003 ==\n1003: account -, auth ip/);
  t.match(why.stdout, /^\S+ \S+ registered +1003 +127\.0\.0\.1:\d+$/m, 'Why shows the REGISTER just answered');
  t.notMatch(why.stdout, /No REGISTER from this number has been recorded/);
  child.kill('SIGTERM');
  t.equal((await exitOf(child)).code, 0);
});

t.test('logs: JSON by default, readable lines with --log-format pretty and on a terminal', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(config(port));
  const dataDir = join(dirname(file), 'data');
  const pretty = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO {2}sipreg started version=\S+ commit=\S+ config=\S+ configGeneration=\d+ dataDir=\S+ listen=\["127\.0\.0\.1:\d+"\]\r?$/;

  const json = await startService(t, file);
  json.kill('SIGTERM');
  t.equal((await exitOf(json)).code, 0);

  const child = spawnSipreg(['run', '-c', file, '--log-format', 'pretty']);
  t.teardown(() => { child.kill('SIGKILL'); });
  const line = await waitForLine(child, (l) => l.includes('sipreg started'));
  t.match(line, pretty);
  child.kill('SIGTERM');
  t.match(await waitForLine(child, (l) => l.includes('stopped')), /^\S+ INFO {2}stopped$/);
  await exitOf(child);

  // On a terminal (script(1) gives it a pty), pretty without being asked.
  const tty = spawn('script', ['-qfec', `${sipregShell()} run -c '${file}'`, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { tty.kill('SIGKILL'); });
  t.match(await waitForLine(tty, (l) => l.includes('sipreg started')), pretty);
  // The service, not script: closing the pty would send it SIGHUP (a reload), not a stop.
  process.kill(Number(readFileSync(join(dataDir, 'service.pid'), 'utf8').split(' ')[0]), 'SIGTERM');
  t.equal((await exitOf(tty)).code, 0);
});

t.test('help: every global option; two-column command help; the man page and bash completion from the same table', async (t) => {
  const help = runSipreg(['--help']);
  t.equal(help.status, 0);
  for (const row of [/^ {2}-c, --config FILE +config file/m, /^ {2}-h, --help +this help/m, /^ {2}-V, --version +version/m, /^ {2}SIPREG_CONFIG +the config file/m]) {
    t.match(help.stdout, row);
  }
  const commands = [...help.stdout.matchAll(/^ {2}([a-z-]+) {2,}\S/gm)].map((m) => m[1]!);
  t.same(commands, ['run', 'check', 'config', 'console', 'list', 'show', 'unregister', 'trunks', 'events', 'lockouts', 'unlock', 'stats', 'compact',
    'backup', 'restore', 'factory-reset', 'firmware', 'params', 'help']);
  t.same(help.stdout.split('\n').filter((l) => l.length > 80), [], '80 columns');

  const man = runSipreg(['help', '--man']);
  t.equal(man.status, 0);
  const rendered = spawnSync('groff', ['-man', '-Tascii', '-P-cbou', '-ww'], { input: man.stdout, encoding: 'utf8' });
  t.equal(rendered.stderr, '', 'groff renders it without a warning');
  t.match(rendered.stdout, /NAME\n +sipreg - UDP SIP registrar/);

  for (const command of commands) {
    const r = runSipreg([command, '--help']);
    t.equal(r.status, 0, `${command} --help`);
    t.same(r.stdout.split('\n').filter((l) => l.length > 80), [], `${command}: 80 columns`);
    const rows = r.stdout.slice(r.stdout.indexOf('options:\n') + 9).split('\n').filter((l) => l !== '');
    const isOption = (l: string): boolean => /^ {2}(-\w, | {4})--/.test(l);
    const options = rows.filter(isOption);
    t.ok(options.length >= 2 && isOption(rows[0]!), `${command}: option rows`);
    // Column 2 starts where a row's flag is followed by two spaces, and where each continuation line starts.
    const textColumn = new Set(rows.map((l) => (isOption(l) ? (/^( {2}.*?\S {2,})\S/.exec(l)?.[1]?.length ?? null) : l.length - l.trimStart().length)));
    textColumn.delete(null);
    t.equal(textColumn.size, 1, `${command}: the option texts start in one column`);
    for (const flag of options.map((l) => l.trim().split(/ {2,}/)[0]!)) {
      t.ok(rendered.stdout.includes(flag.replace(/^-\w, /, '').split(' ')[0]!), `man page has ${flag} of ${command}`);
    }
  }

  const completion = runSipreg(['help', '--bash-completion']);
  t.equal(completion.status, 0);
  const dir = tmpDir();
  writeFileSync(join(dir, 'sipreg.bash'), completion.stdout);
  const complete = (...words: string[]): string => spawnSync('bash', ['-c',
    `source '${join(dir, 'sipreg.bash')}'; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _sipreg; echo "\${COMPREPLY[*]}"`,
  ], { encoding: 'utf8' }).stdout.trim();
  t.equal(complete('sipreg', 'ev'), 'events');
  t.equal(complete('sipreg', 'list', '--st'), '--status');
  t.equal(complete('sipreg', 'list', '--status', ''), 'registered expiring expired');
  t.equal(complete('sipreg', 'run', '--log-format', ''), 'json pretty');
  t.equal(complete('sipreg', 'help', 'unr'), 'unregister');
  t.equal(complete('sipreg', 'show', '--number', ''), '', 'no guesses for a free value');
});

t.test('make install into a throwaway DESTDIR: the files, their modes, the user; an existing config is kept', async (t) => {
  const destdir = tmpDir('sipreg-destdir-');
  const install = (...args: string[]): { status: number | null; stdout: string; stderr: string } =>
    spawnSync('make', ['-s', '-o', 'build', '-o', 'deps', 'install', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
  const first = install(`DESTDIR=${destdir}`);
  t.equal(first.status, 0, first.stderr);
  const modes = (root: string): Record<string, string> => {
    const r = spawnSync('find', ['.', '-path', './etc/*shadow', '-prune', '-o', '-path', './etc/.pwd.lock', '-prune', '-o', '(', '-type', 'f', '-o', '-path', './etc/sipreg', ')', '-printf', '%P %m %U:%G\\n'], { cwd: root, encoding: 'utf8' });
    return Object.fromEntries(r.stdout.trim().split('\n').filter((l) => l !== '').map((l) => { const [p, ...rest] = l.split(' '); return [p!, rest.join(' ')]; }));
  };
  const group = /^sipreg:x:(\d+):$/m.exec(readFileSync(join(destdir, 'etc/group'), 'utf8'));
  t.ok(group !== null, 'systemd-sysusers made group sipreg');
  const passwd = readFileSync(join(destdir, 'etc/passwd'), 'utf8');
  t.match(passwd, /^sipreg:x:\d+:\d+:sipreg registrar:\/var\/lib\/sipreg:\/usr\/sbin\/nologin$/m, 'and user sipreg, no login');
  const gid = group![1]!;
  t.same(modes(destdir), {
    'usr/bin/sipreg': '755 0:0',
    'usr/share/man/man1/sipreg.1': '644 0:0',
    'usr/share/bash-completion/completions/sipreg': '644 0:0',
    'usr/share/doc/sipreg/README.md': '644 0:0',
    'usr/share/doc/sipreg/docs/behaviour.md': '644 0:0',
    'usr/share/doc/sipreg/docs/operations.md': '644 0:0',
    'usr/lib/systemd/system/sipreg.service': '644 0:0',
    'usr/lib/sysusers.d/sipreg.conf': '644 0:0',
    'usr/lib/tmpfiles.d/sipreg.conf': '644 0:0',
    'etc/sipreg': `750 0:${gid}`,
    'etc/sipreg/sipreg.yaml': `640 0:${gid}`,
    'etc/passwd': '644 0:0',
    'etc/group': '644 0:0',
  });
  t.equal(readFileSync(join(destdir, 'usr/share/man/man1/sipreg.1'), 'utf8'), runSipreg(['help', '--man']).stdout, 'the man page is the generated one');
  t.equal(readFileSync(join(destdir, 'usr/share/bash-completion/completions/sipreg'), 'utf8'), runSipreg(['help', '--bash-completion']).stdout);
  const checked = spawnSync(join(destdir, 'usr/bin/sipreg'), ['check', '-c', join(destdir, 'etc/sipreg/sipreg.yaml')], { encoding: 'utf8' });
  t.equal(checked.status, 0, 'the installed binary passes the installed example config');
  t.match(checked.stdout, /^OK: \d+ accounts?, \d+ trunks?\n$/);
  const unit = readFileSync(join(destdir, 'usr/lib/systemd/system/sipreg.service'), 'utf8');
  t.match(unit, /^ExecStart=\/usr\/bin\/sipreg run -c \/etc\/sipreg\/sipreg\.yaml$/m);
  const imageOnly = [...unit.matchAll(/^(\w*Paths)=(.*)$/gm)].flatMap((m) => m[2]!.split(' ')).filter((p) => p.includes('/var/etc'));
  t.ok(imageOnly.length > 0 && imageOnly.every((p) => p.startsWith('-')), `the image-only paths are optional on a plain host: ${imageOnly.join(' ')}`);

  // Again, over an edited config: kept, the new example beside it, the user not made twice.
  writeFileSync(join(destdir, 'etc/sipreg/sipreg.yaml'), 'data_dir: /srv/mine\n');
  const again = install(`DESTDIR=${destdir}`);
  t.equal(again.status, 0, again.stderr);
  t.equal(readFileSync(join(destdir, 'etc/sipreg/sipreg.yaml'), 'utf8'), 'data_dir: /srv/mine\n', 'the existing config is untouched');
  t.equal(readFileSync(join(destdir, 'etc/sipreg/sipreg.yaml.example'), 'utf8'), readFileSync(join(repoRoot, 'etc/sipreg.yaml'), 'utf8'));
  t.equal(readFileSync(join(destdir, 'etc/passwd'), 'utf8'), passwd, 'one sipreg user');

  // Another prefix, staged for a package (no user made): the unit runs the binary where it went.
  const staged = tmpDir('sipreg-destdir-');
  mkdirSync(join(staged, 'etc'), { recursive: true });
  const local = install(`DESTDIR=${staged}`, 'PREFIX=/usr/local', 'NOSETUP=1');
  t.equal(local.status, 0, local.stderr);
  t.ok(existsSync(join(staged, 'usr/local/bin/sipreg')));
  t.ok(existsSync(join(staged, 'usr/local/share/man/man1/sipreg.1')));
  t.match(readFileSync(join(staged, 'usr/lib/systemd/system/sipreg.service'), 'utf8'), /^ExecStart=\/usr\/local\/bin\/sipreg run /m);
  t.notOk(existsSync(join(staged, 'etc/passwd')), 'NOSETUP=1 makes no user');
});
