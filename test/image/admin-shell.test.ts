// The appliance's admin login shell (image/rootfs/usr/libexec/sipreg/admin-shell), run here with sh: on
// the serial line the console waits for Enter (a Node console held ~20 MiB of a 256 MiB box while
// nobody was there); over SSH it starts at once; a command other than `sipreg ...` or sftp is refused.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../helpers/sipreg.js';

const shell = join(repoRoot, 'image', 'rootfs', 'usr', 'libexec', 'sipreg', 'admin-shell');
const run = (args: string[], env: NodeJS.ProcessEnv, input: string) =>
  spawnSync('sh', [shell, ...args], { input, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', ...env }, timeout: 10_000 });

t.test('serial line: a prompt, and no console until Enter (a closed line ends the login)', async (t) => {
  const r = run([], {}, '');
  t.equal(r.status, 0, 'EOF on the line: the login ends, getty starts it again');
  t.match(r.stdout, /press Enter for the console/);
  t.notMatch(r.stderr, /sipreg/, 'the console was not started');
  const entered = run([], {}, '\n');
  // /usr/bin/sipreg is the appliance's: here its absence shows the console was what came next.
  t.match(entered.stderr, /\/usr\/bin\/sipreg/, 'Enter starts the console');
});

t.test('SSH: an interactive login starts the console at once; commands other than sipreg and sftp are refused', async (t) => {
  const r = run([], { SSH_CONNECTION: '10.0.2.2 40000 10.0.2.15 22' }, '');
  t.notMatch(r.stdout, /press Enter/);
  t.match(r.stderr, /\/usr\/bin\/sipreg/, 'the console is started without waiting');
  const refused = run(['-c', 'cat /etc/shadow'], { SSH_CONNECTION: 'x' }, '');
  t.equal(refused.status, 1);
  t.match(refused.stderr, /only 'sipreg \.\.\.' commands and sftp are allowed/);
});
