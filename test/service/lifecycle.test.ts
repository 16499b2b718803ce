import t from 'tap';
import { writeFileSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { spawnSipreg, runSipreg, writeConfig, freeUdpPort, waitForLine, exitOf, tmpDir } from '../helpers/sipreg.js';

const config = (port: number, level = 'info'): string => `
sip:
  listen: ["127.0.0.1:${port}"]
  realm: "test"
data_dir: "@DATA@"
log_level: ${level}
accounts:
  - number: "1001"
    password: "secret-one"
`;

const logged = (msg: string) => (line: string): boolean => line.includes(`"msg":"${msg}"`);

t.test('run starts, reloads a valid config on SIGHUP, refuses a broken one, stops cleanly on SIGTERM', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(config(port));
  const child = spawnSipreg(['run', '-c', file]);
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
  t.teardown(() => { child.kill('SIGKILL'); });
  const started = JSON.parse(await waitForLine(child, logged('sipreg started'))) as { dataDir: string; listen: string[] };
  t.equal(started.dataDir, join(dirname(file), 'data'), 'data_dir is resolved beside the config file');
  t.same(started.listen, [`127.0.0.1:${port}`]);

  writeFileSync(file, config(port, 'debug').replace('1001', '1002'));
  child.kill('SIGHUP');
  const reloaded = JSON.parse(await waitForLine(child, logged('config reloaded'))) as { accounts: number };
  t.equal(reloaded.accounts, 1);

  writeFileSync(file, config(port).replace('realm: "test"', 'realm: "test"\n  bogus_key: 1'));
  child.kill('SIGHUP');
  const refused = await waitForLine(child, logged('config reload refused: the running config is kept'));
  t.match(refused, /bogus_key/, 'the refusal names the problem');
  t.notMatch(refused, /secret-one/, 'and never the password');

  child.kill('SIGTERM');
  await waitForLine(child, logged('stopped'));
  const { code } = await exitOf(child);
  t.equal(code, 0, 'exit 0 on SIGTERM');
  t.equal(stderr, '', 'nothing on stderr');
});

t.test('a data_dir that cannot be created is one line and exit 1', async (t) => {
  const dir = tmpDir();
  writeFileSync(join(dir, 'blocker'), 'x');
  const port = await freeUdpPort();
  const file = writeConfig(config(port).replace('"@DATA@"', JSON.stringify(join(dir, 'blocker', 'data'))), dir);
  const r = runSipreg(['run', '-c', file]);
  t.equal(r.status, 1);
  t.match(r.stderr, /^sipreg: data_dir .*blocker\/data: cannot create or write \(ENOTDIR\)\n$/);
});

t.test('an invalid config does not start the service', async (t) => {
  const port = await freeUdpPort();
  const file = writeConfig(config(port).replace('log_level: info', 'log_level: loud'));
  const r = runSipreg(['run', '-c', file]);
  t.equal(r.status, 1);
  t.match(r.stderr, /sipreg\.yaml:\d+:\d+: log_level: /);
  t.match(r.stderr, /invalid configuration, not starting/);
});

t.test('--help, --version, unknown command and bad option', async (t) => {
  const help = runSipreg(['--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /^usage: sipreg <command> \[options\]/);
  t.match(help.stdout, /\n {2}run {12}the service/);
  t.match(help.stdout, /\n {2}check {10}validate/);
  t.same(help.stdout.split('\n').filter((l) => l.length > 80), [], 'fits an 80-column serial terminal');
  const version = runSipreg(['--version']);
  t.equal(version.status, 0);
  t.match(version.stdout, /^sipreg \S+ \(commit \S+\) node v20\.\d+\.\d+ linux-(x64|arm64)\n$/);
  const unknown = runSipreg(['frobnicate']);
  t.equal(unknown.status, 2);
  t.match(unknown.stderr, /^sipreg: ERR_CLI_UNKNOWN_COMMAND: unknown command 'frobnicate'\nusage: sipreg/);
  const bad = runSipreg(['check', '--frob']);
  t.equal(bad.status, 2);
  t.match(bad.stderr, /^sipreg check: ERR_CLI_UNKNOWN_OPTION: unknown option '--frob'\n/);
  const none = runSipreg([]);
  t.equal(none.status, 2);
});

t.test('check on the shipped example is clean', async (t) => {
  const example = new URL('../../etc/sipreg.yaml', import.meta.url).pathname;
  const r = runSipreg(['check', '-c', example]);
  t.equal(r.stderr, '');
  t.equal(r.status, 0);
  t.ok(readFileSync(example, 'utf8').length > 0);
});
