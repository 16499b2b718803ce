/**
 * The console's Backup, Restore and Factory reset screens (issue 18) in an 80x24 tmux window against a
 * real service: a backup while it runs; restore and reset refused while it runs; restore into the
 * stopped service brings the backup's bindings back and ends the console; a reset needs the words in
 * full, then empties data_dir and ends the console.
 */
import t from 'tap';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { TmuxConsole } from './fixtures/tmux.js';
import { startService } from '../e2e/service.js';
import { SipClient } from '../registrar/sipclient.js';
import { sipregCommand } from '../helpers/sipreg.js';

const term = new TmuxConsole('backup');
t.teardown(() => term.close());

function listed(configFile: string): string[] {
  const { file, prefix } = sipregCommand();
  const r = spawnSync(file, [...prefix, 'list', '--json', '-c', configFile], { encoding: 'utf8' });
  return (JSON.parse(r.stdout) as { number: string }[]).map((b) => b.number).sort();
}

t.test('backup, restore and factory reset from the console', async (t) => {
  const s = await startService('accounts:\n' + ['1001', '1002', '1003'].map((n) => `  - { number: "${n}", auth_mode: ip, allow: ["127.0.0.0/8"] }\n`).join(''));
  t.teardown(() => s.kill('SIGKILL'));
  const client = await SipClient.open(s.port);
  t.teardown(() => client.close());
  for (const n of ['1001', '1002']) t.equal((await client.register({ user: n, expires: 600 })).status, 200);
  const file = join(s.dir, 'console-backup.tar');

  term.start(s.configFile, s.dataDir);
  let screen = await term.waitFor(/Choice:/);
  t.match(screen, /10 {2}Backup/);
  t.match(screen, /12 {2}Factory reset/);
  term.type('10');
  await term.waitFor(/File \(Enter = default, 0 = cancel\)/);
  term.type(file);
  screen = await term.waitFor(/Press Enter/);
  t.match(screen, /config in force/);
  term.type('');
  await term.waitFor(/Backup written to/);
  t.ok(existsSync(file), 'the backup file is there');

  term.type('12');
  await term.waitFor(/Type "factory reset" to erase/);
  term.type('factory reset');
  await term.waitFor(/Nothing erased: the service is running/);
  term.type('11');
  await term.waitFor(/Backup file \(0 = cancel\)/);
  term.type(file);
  await term.waitFor(/Not restored: the service is running/);
  t.same(listed(s.configFile), ['1001', '1002'], 'nothing changed');
  term.type('q');
  await term.waitFor(/EXIT=0/);

  t.equal((await client.register({ user: '1003', expires: 600 })).status, 200);
  await s.kill();
  term.start(s.configFile, s.dataDir);
  await term.waitFor(/Choice:/);
  term.type('11');
  await term.waitFor(/Backup file/);
  term.type(file);
  await term.waitFor(/Also put its config in place\?/);
  term.type('');
  await term.waitFor(/Type restore to replace the store/);
  term.type('restore');
  screen = await term.waitFor(/EXIT=0/);
  t.match(screen, /Restored the store in/);
  t.match(screen, /The console ends here\./);
  t.same(listed(s.configFile), ['1001', '1002'], 'the backup\'s bindings, not the later one');

  term.start(s.configFile, s.dataDir);
  await term.waitFor(/Choice:/);
  term.type('12');
  await term.waitFor(/Type "factory reset"/);
  term.type('factory');
  await term.waitFor(/Nothing erased: type "factory reset" in full/);
  t.same(listed(s.configFile), ['1001', '1002'], 'nothing erased');
  term.type('12');
  await term.waitFor(/Type "factory reset"/);
  term.type('factory reset');
  screen = await term.waitFor(/EXIT=0/);
  t.match(screen, /Factory reset done: .* emptied/);
  t.same(readdirSync(s.dataDir), [], 'data_dir is empty');
});
