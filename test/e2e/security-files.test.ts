// The files the service makes and reads, as someone else on the machine sees them: the store private
// whoever starts the service (group-shared only in a setgid data_dir, as on the appliance), a warning
// when the config holding secrets is open to others, and a Prometheus textfile that a symlink planted in
// its (shared) directory cannot redirect.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exitOf, freeUdpPort, sipregCommand, tmpDir, waitForLine } from '../helpers/sipreg.js';

const FOREIGN_GID = 4242;

/** `sipreg run` under a given umask, as an installer's shell or a unit with its own UMask= would start it. */
function runUnderUmask(umask: string, configFile: string): { child: ChildProcess; lines: string[] } {
  const { file, prefix } = sipregCommand();
  const child = spawn('/bin/sh', ['-c', `umask ${umask}; exec "$0" "$@"`, file, ...prefix, 'run', '-c', configFile],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString('utf8');
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  return { child, lines };
}

async function started(child: ChildProcess): Promise<void> {
  await waitForLine(child, (l) => l.includes('"sipreg started"'));
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGTERM');
  await exitOf(child);
}

async function config(dir: string, body: string): Promise<string> {
  const port = await freeUdpPort();
  const file = join(dir, 'sipreg.yaml');
  writeFileSync(file, `sip:\n  listen: ["127.0.0.1:${port}"]\ndata_dir: ${join(dir, 'data')}\n${body}`);
  return file;
}

const SECRETS = 'accounts:\n  - { number: "1001", password: "not-for-others" }\n';
const NO_SECRETS = 'accounts:\n  - { number: "2001", auth_mode: ip, allow: ["127.0.0.1"] }\n';

const mode = (path: string): string => (statSync(path).mode & 0o7777).toString(8).padStart(4, '0');
const warnings = (lines: string[]): string[] =>
  lines.filter((l) => l.includes('holds passwords or HA1s')).map((l) => JSON.parse(l) as { msg: string; mode: string }).map((l) => `${l.mode} ${l.msg}`);

t.test('a data_dir the service makes is 0700 and its store files 0600, under umask 022', async (t) => {
  const dir = tmpDir('sipreg-files-');
  const file = await config(dir, NO_SECRETS);
  const { child } = runUnderUmask('022', file);
  await started(child);
  const data = join(dir, 'data');
  t.equal(mode(data), '0700', 'data_dir');
  for (const f of ['data.mdb', 'lock.mdb']) t.equal(mode(join(data, f)), '0600', f);
  await stop(child);
});

t.test('a group-shared (setgid) data_dir gets store files 0660 of its group, under umask 022', async (t) => {
  const dir = tmpDir('sipreg-files-');
  const data = join(dir, 'data');
  mkdirSync(data);
  chownSync(data, process.getuid?.() ?? 0, FOREIGN_GID);
  chmodSync(data, 0o2770);
  const file = await config(dir, NO_SECRETS);
  const { child } = runUnderUmask('022', file);
  await started(child);
  t.equal(mode(data), '2770', 'an existing data_dir keeps its mode');
  for (const f of ['data.mdb', 'lock.mdb']) {
    t.equal(mode(join(data, f)), '0660', `${f}: group read-write, nothing for others`);
    t.equal(statSync(join(data, f)).gid, FOREIGN_GID, `${f}: the directory's group`);
  }
  await stop(child);
});

t.test('a config holding secrets that others may read is warned about at start', async (t) => {
  // [what, body, file mode, file group (null: the service's own), warnings expected]
  const cases: [string, string, number, number | null, number][] = [
    ['secrets, world-readable', SECRETS, 0o644, null, 1],
    ['secrets, world-writable only', SECRETS, 0o602, null, 1],
    ['secrets, readable by another group', SECRETS, 0o640, FOREIGN_GID, 1],
    ['secrets, readable by the service\'s own group (the appliance)', SECRETS, 0o640, null, 0],
    ['secrets, owner only', SECRETS, 0o600, FOREIGN_GID, 0],
    ['no secrets, world-readable', NO_SECRETS, 0o644, null, 0],
  ];
  for (const [what, body, fileMode, gid, expected] of cases) {
    const dir = tmpDir('sipreg-files-');
    const file = await config(dir, body);
    chownSync(file, process.getuid?.() ?? 0, gid ?? (process.getgid?.() ?? 0));
    chmodSync(file, fileMode);
    const { child, lines } = runUnderUmask('077', file);
    await started(child);
    const w = warnings(lines);
    t.equal(w.length, expected, `${what}: ${w.join(' | ') || 'no warning'}`);
    if (expected > 0) t.match(w[0], new RegExp(`^${fileMode.toString(8).padStart(4, '0')} .*open to (group ${FOREIGN_GID}|everyone)`));
    await stop(child);
  }
});

t.test('a reload of a config that became world-readable warns again', async (t) => {
  const dir = tmpDir('sipreg-files-');
  const file = await config(dir, SECRETS);
  chmodSync(file, 0o600);
  const { child, lines } = runUnderUmask('077', file);
  await started(child);
  t.same(warnings(lines), [], 'private at start: no warning');
  chmodSync(file, 0o604);
  const reloaded = waitForLine(child, (l) => l.includes('"config reloaded"'));
  child.kill('SIGHUP');
  await reloaded;
  t.match(warnings(lines), [/^0604 .*open to everyone/], 'warned on reload');
  await stop(child);
});

t.test('a symlink planted in the textfile directory is not written through', async (t) => {
  // node_exporter's textfile directory is typically writable by several services. Whatever name the
  // writer's temp file might have had (`<file>.<pid>.tmp` before), a link there to another file must
  // neither write that file nor leave the textfile a link.
  const dir = tmpDir('sipreg-files-');
  const shared = join(dir, 'textfile');
  mkdirSync(shared);
  chmodSync(shared, 0o1777);
  const prom = join(shared, 'sipreg.prom');
  const victim = join(dir, 'victim');
  writeFileSync(victim, 'precious\n');
  const file = await config(dir, `metrics_textfile: ${prom}\n${NO_SECRETS}`);
  const { child } = runUnderUmask('022', file);
  await started(child);
  for (let i = 0; i < 50 && !existsSync(prom); i++) await new Promise((r) => setTimeout(r, 100));
  t.ok(existsSync(prom), 'textfile written at start');
  const firstWrite = statSync(prom).mtimeMs;
  symlinkSync(victim, `${prom}.${child.pid}.tmp`);
  for (let i = 0; i < 120 && statSync(prom).mtimeMs === firstWrite; i++) await new Promise((r) => setTimeout(r, 100));
  t.not(statSync(prom).mtimeMs, firstWrite, 'the textfile was rewritten (every 5 s)');
  t.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the link target is untouched');
  t.ok(lstatSync(prom).isFile(), 'the textfile is a regular file, not the planted link');
  t.match(readFileSync(prom, 'utf8'), /^sipreg_up 1$/m);
  t.equal(mode(prom), '0644', 'readable by the collector');
  await stop(child);
});
