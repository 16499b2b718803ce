// The console's Firmware menu (issue 18) against a fake box (slots as files, the ESP as a directory): the
// status of both slots, an install through the same checks as `sipreg firmware install`.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ui } from '../../src/console/ui.js';
import { firmwareMenu } from '../../src/console/screens/firmware.js';
import { entryText } from '../../src/firmware/entries.js';
import type { FirmwareLayout } from '../../src/firmware/layout.js';
import { repoRoot, tmpDir } from '../helpers/sipreg.js';

const dir = tmpDir('sipreg-console-fw-');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
writeFileSync(join(dir, 'key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(join(dir, 'pub'), publicKey.export({ type: 'spki', format: 'pem' }));
const esp = join(dir, 'esp');
mkdirSync(join(esp, 'loader', 'entries'), { recursive: true });
mkdirSync(join(esp, 'sipreg', 'a'), { recursive: true });
mkdirSync(join(dir, 'slots'));
const options = 'root=PARTLABEL=sipreg-root-a ro quiet';
writeFileSync(join(esp, 'loader', 'entries', 'sipreg-1-a.conf'), entryText('a', '1.0.0', options));
writeFileSync(join(esp, 'sipreg', 'a', 'manifest.json'), JSON.stringify({ version: '1.0.0' }));
writeFileSync(join(dir, 'slots', 'sipreg-root-a'), '');
writeFileSync(join(dir, 'slots', 'sipreg-root-b'), '');
writeFileSync(join(dir, 'cmdline'), `${options}\n`);
const layout: FirmwareLayout = {
  espDir: esp, slotDir: join(dir, 'slots'), cmdlineFile: join(dir, 'cmdline'), efivarsDir: join(dir, 'none'),
  publicKeyFile: join(dir, 'pub'), queueDir: join(dir, 'no-queue'),
};
for (const p of ['root', 'kernel', 'initrd']) writeFileSync(join(dir, p), randomBytes(2000));
const bundle = (arch: string): string => execFileSync(process.execPath, [join(repoRoot, 'image/firmware-bundle.mjs'), '--key', join(dir, 'key'),
  '--version', '1.1.0', '--arch', arch, '--root', join(dir, 'root'), '--kernel', join(dir, 'kernel'), '--initrd', join(dir, 'initrd'),
  '--out', join(dir, arch)], { encoding: 'utf8' }).trim();

async function drive(lines: string[]): Promise<string[]> {
  let out = '';
  const queue = [...lines];
  const ui = new Ui({ write: (s) => { out += s; }, clear: false, status: () => ['sipreg | service up'],
    lines: { next: async (prompt) => { out += prompt; return queue.shift() ?? null; } } });
  await firmwareMenu(ui, layout).catch(() => {});
  return out.split(/\n(?=sipreg \| service up)/).filter((s) => s.trim() !== '');
}

t.test('the slots, a refused bundle, an installed one', async (t) => {
  const wrong = bundle(process.arch === 'arm64' ? 'x64' : 'arm64');
  const good = bundle(process.arch);
  const screens = await drive(['1', wrong, '', '1', good, '', '0']);
  t.match(screens[0], /^slot a +1\.0\.0 +booted +blessed +sipreg-1-a\.conf$/m);
  t.match(screens[0], /^slot b +- +no entry$/m);
  t.match(screens[0], /1 install a bundle/);
  const refused = screens.find((s) => s.includes('Firmware: not installed'));
  t.match(refused, /refused, nothing written: a bundle for \w+, this box is/);
  const installed = screens.find((s) => s.includes('Firmware: installed (reboot to try it)'));
  t.match(installed, /installed sipreg 1\.1\.0 in slot b \(running: 1\.0\.0\)/);
  t.match(screens[screens.length - 1], /^slot b +1\.1\.0 +on trial, 3 tries left +sipreg-2-b\+3\.conf$/m);
  t.same(readdirSync(join(esp, 'loader', 'entries')).sort(), ['sipreg-1-a.conf', 'sipreg-2-b+3.conf']);
  for (const s of screens) t.same(s.replace(/\n$/, '').split('\n').filter((l) => l.length > 80), [], 'no line over 80 columns');
});
