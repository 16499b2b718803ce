/**
 * Backup, restore and factory reset (issue 18) through the real binary: a backup taken while phones
 * register holds the bindings committed before it, a restore into the stopped service brings exactly
 * those back (and, asked, the config), a restore while the service runs, a damaged or foreign file and a
 * newer schema are refused with nothing changed; a factory reset needs the words in full and the service
 * stopped, then leaves an empty data_dir and the factory config.
 */
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sipregCommand } from '../helpers/sipreg.js';
import { startService } from '../e2e/service.js';
import { SipClient } from '../registrar/sipclient.js';

const accounts = (numbers: string[]): string => `accounts:\n${numbers.map((n) => `  - { number: "${n}", auth_mode: ip, allow: ["127.0.0.0/8"] }\n`).join('')}`;
const NUMBERS = Array.from({ length: 40 }, (_, i) => String(2000 + i));

function sipreg(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const { file, prefix } = sipregCommand();
  const child = spawn(file, [...prefix, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ status: code, stdout, stderr })));
}

async function listed(configFile: string): Promise<string[]> {
  const r = await sipreg(['list', '--json', '-c', configFile]);
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { number: string }[]).map((b) => b.number).sort();
}

t.test('backup while phones register, restore into the stopped service', async (t) => {
  const s = await startService(accounts(NUMBERS));
  t.teardown(() => s.kill('SIGKILL'));
  const client = await SipClient.open(s.port);
  t.teardown(() => client.close());
  for (const n of NUMBERS.slice(0, 10)) t.equal((await client.register({ user: n, expires: 600 })).status, 200);

  // Phones keep registering while the backup is taken.
  let registering = true;
  let more = 10;
  const phones = (async () => {
    while (registering && more < 30) await client.register({ user: NUMBERS[more++]!, expires: 600 });
  })();
  const file = join(s.dir, 'box.tar');
  const r = await sipreg(['backup', file, '-c', s.configFile]);
  registering = false;
  await phones;
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, new RegExp(`^wrote ${file}: store [\\d.]+ MiB \\(schema \\d+, from ${s.dataDir}\\), config ${s.configFile} \\(in force, generation 1\\)$`, 'm'));
  t.same(execFileSync('tar', ['tf', file], { encoding: 'utf8' }).split('\n').filter(Boolean), ['manifest.json', 'data.mdb', 'sipreg.yaml'], 'a tar any machine lists');
  const manifest = JSON.parse(execFileSync('tar', ['xOf', file, 'manifest.json'], { encoding: 'utf8' })) as { format: string; schema: number; files: { name: string }[] };
  t.match(manifest, { format: 'sipreg-backup', formatVersion: 1 });
  const inBackup = new Set<string>();
  {
    // What the backup holds: its store, opened on its own.
    const dir = join(s.dir, 'unpacked');
    mkdirSync(dir);
    execFileSync('tar', ['xf', file, '-C', dir]);
    const copy = await sipreg(['list', '--json', '--data-dir', dir, '-c', s.configFile]);
    for (const b of JSON.parse(copy.stdout) as { number: string }[]) inBackup.add(b.number);
  }
  t.ok(NUMBERS.slice(0, 10).every((n) => inBackup.has(n)), `every binding made before the backup is in it (${inBackup.size} in all)`);

  // Afterwards the live store moves on: one more phone, one unregistered.
  t.equal((await client.register({ user: NUMBERS[39]!, expires: 600 })).status, 200);
  t.equal((await client.register({ user: NUMBERS[0]!, expires: 0 })).status, 200);

  const refused = await sipreg(['restore', file, '-c', s.configFile]);
  t.equal(refused.status, 1, 'refused while the service runs');
  t.match(refused.stderr, new RegExp(`^sipreg restore: ERR_CLI_BACKUP: the store in ${s.dataDir} is open in process ${s.child.pid}.*stop the service first \\(systemctl stop sipreg\\).*; nothing changed$`, 'm'));
  t.ok((await listed(s.configFile)).includes(NUMBERS[39]!), 'the store is untouched');

  await s.kill();
  const restored = await sipreg(['restore', file, '-c', s.configFile]);
  t.equal(restored.status, 0, restored.stderr);
  t.match(restored.stdout, new RegExp(`^restored the store in ${s.dataDir} `, 'm'));
  t.same(await listed(s.configFile), [...inBackup].sort(), 'exactly the backup\'s bindings');
  await s.restart();
  t.same(await listed(s.configFile), [...inBackup].sort(), 'and the service started on them');
  t.equal((await client.register({ user: NUMBERS[0]!, expires: 600 })).status, 200, 'it answers');

  // Damaged, foreign, newer: refused before anything is touched.
  await s.kill();
  const bytes = readFileSync(file);
  const damaged = join(s.dir, 'damaged.tar');
  const copy = Buffer.from(bytes);
  copy[2048 + 700] = copy[2048 + 700]! ^ 0xff; // inside data.mdb (the manifest takes blocks 0-2)
  writeFileSync(damaged, copy);
  let x = await sipreg(['restore', damaged, '-c', s.configFile]);
  t.equal(x.status, 1);
  t.match(x.stderr, /does not match its SHA-256 in the manifest \(damaged\); nothing changed/);
  const cut = join(s.dir, 'cut.tar');
  writeFileSync(cut, bytes.subarray(0, 4096));
  x = await sipreg(['restore', cut, '-c', s.configFile]);
  t.equal(x.status, 1);
  t.match(x.stderr, /not a sipreg backup \(.*cut short/);
  const foreign = join(s.dir, 'foreign.tar');
  execFileSync('tar', ['cf', foreign, '-C', s.dir, 'sipreg.yaml']);
  x = await sipreg(['restore', foreign, '-c', s.configFile]);
  t.equal(x.status, 1);
  t.match(x.stderr, /not a sipreg backup \(no manifest\.json first\); nothing changed/);
  const newer = join(s.dir, 'newer');
  mkdirSync(newer);
  execFileSync('tar', ['xf', file, '-C', newer]);
  const m = JSON.parse(readFileSync(join(newer, 'manifest.json'), 'utf8')) as { schema: number };
  writeFileSync(join(newer, 'manifest.json'), JSON.stringify({ ...m, schema: 99 }));
  execFileSync('tar', ['--format=ustar', '-cf', join(s.dir, 'newer.tar'), '-C', newer, 'manifest.json', 'data.mdb', 'sipreg.yaml']);
  x = await sipreg(['restore', join(s.dir, 'newer.tar'), '-c', s.configFile]);
  t.equal(x.status, 1);
  t.match(x.stderr, /store schema 99 .* is newer than this sipreg reads \(\d+\)/);
  t.same(await listed(s.configFile), [...inBackup].sort(), 'nothing changed by the refused ones');

  // --with-config: the backup's config back in place, the current one kept.
  const before = readFileSync(s.configFile, 'utf8');
  writeFileSync(s.configFile, before.replace(/accounts:[\s\S]*$/, accounts(['9999'])));
  x = await sipreg(['restore', file, '--with-config', '-c', s.configFile]);
  t.equal(x.status, 0, x.stderr);
  t.equal(readFileSync(s.configFile, 'utf8'), before, 'the backup\'s config is back');
  x = await sipreg(['config', 'history', '-c', s.configFile]);
  t.match(x.stdout, /^\s+1\s.*installed\s+restore .*box\.tar$/m);
});

t.test('factory reset', async (t) => {
  const s = await startService(accounts(['1001']));
  t.teardown(() => s.kill('SIGKILL'));
  const client = await SipClient.open(s.port);
  t.teardown(() => client.close());
  t.equal((await client.register({ user: '1001', expires: 600 })).status, 200);
  const factory = join(s.dir, 'factory.yaml');
  writeFileSync(factory, readFileSync(s.configFile, 'utf8').replace(/accounts:[\s\S]*$/, 'accounts: []\n'));

  for (const confirm of [[], ['--confirm', 'factory'], ['--confirm', 'FACTORY RESET']]) {
    const r = await sipreg(['factory-reset', ...confirm, '--factory-config', factory, '-c', s.configFile]);
    t.equal(r.status, 1, `refused with ${JSON.stringify(confirm)}`);
    t.equal(r.stderr, 'sipreg factory-reset: ERR_CLI_NOT_CONFIRMED: nothing done: this erases every binding, the history and the pushed config; ' +
      'to go on, type sipreg factory-reset --confirm "factory reset"\n');
  }
  let r = await sipreg(['factory-reset', '--confirm', 'factory reset', '--factory-config', factory, '-c', s.configFile]);
  t.equal(r.status, 1, 'refused while the service runs');
  t.match(r.stderr, /stop the service first/);
  t.same(await listed(s.configFile), ['1001'], 'nothing erased');

  await s.kill();
  const pushed = readFileSync(s.configFile, 'utf8');
  r = await sipreg(['factory-reset', '--confirm', 'factory reset', '--factory-config', factory, '-c', s.configFile]);
  t.equal(r.status, 0, r.stderr);
  t.same(readdirSync(s.dataDir), [], 'data_dir is empty');
  t.equal(readFileSync(s.configFile, 'utf8'), readFileSync(factory, 'utf8'), 'the factory config is in place');
  t.ok(existsSync(join(s.dir, 'factory-reset')), 'the marker for new host keys at the next boot');
  t.not(pushed, readFileSync(s.configFile, 'utf8'));
  await s.restart();
  t.same(await listed(s.configFile), [], 'the service starts on an empty store');
  t.not((await client.register({ user: '1001', expires: 600 })).status, 200, 'the pushed account is gone');

  // Without a factory config (not the appliance): the store goes, the config stays, and it says so.
  await s.kill();
  if (!existsSync('/usr/share/sipreg/etc/sipreg.yaml')) {
    const now = readFileSync(s.configFile, 'utf8');
    r = await sipreg(['factory-reset', '--confirm', 'factory reset', '-c', s.configFile]);
    t.equal(r.status, 0, r.stderr);
    t.match(r.stdout, /no factory config at \/usr\/share\/sipreg\/etc\/sipreg\.yaml \(not the appliance\): .* is left as it is/);
    t.equal(readFileSync(s.configFile, 'utf8'), now);
  }
});
