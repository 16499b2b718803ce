// Firmware bundles and `sipreg firmware install|status` against a fake box: slot "partitions" as files,
// the ESP as a directory, the kernel command line as a file (issue 18). The bundles come from the
// builder's own tool (image/firmware-bundle.mjs); the installs run the real binary.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { repoRoot, runSipreg, sipregCommand, tmpDir } from '../helpers/sipreg.js';
import { bootOrder, bootedSlot, entryName, entryText, parseEntryName } from '../../src/firmware/entries.js';

const dir = tmpDir('sipreg-fw-');
const keys = (name: string): { key: string; pub: string } => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  return { key, pub };
};
const trusted = keys('trusted');
const stranger = keys('stranger');
const payload = { root: randomBytes(300_000), kernel: randomBytes(40_000), initrd: randomBytes(30_000) };
for (const [name, bytes] of Object.entries(payload)) writeFileSync(join(dir, name), bytes);

function bundle(version: string, opts: { arch?: string; key?: string; out?: string } = {}): string {
  const out = opts.out ?? join(dir, `out-${version}-${opts.arch ?? process.arch}-${opts.key === undefined ? 't' : 's'}`);
  return execFileSync(process.execPath, [join(repoRoot, 'image/firmware-bundle.mjs'), '--key', opts.key ?? trusted.key,
    '--version', version, '--arch', opts.arch ?? process.arch, '--root', join(dir, 'root'), '--kernel', join(dir, 'kernel'),
    '--initrd', join(dir, 'initrd'), '--out', out], { encoding: 'utf8' }).trim();
}

const OPTIONS = 'root=PARTLABEL=sipreg-root-a ro rootfstype=squashfs console=ttyS0,115200 quiet';
/** A box booted from slot a, factory entry, slot b holding old bytes. */
function box(name: string): { args: string[]; esp: string; slots: string; before: Buffer } {
  const b = join(dir, name);
  const esp = join(b, 'esp');
  const slots = join(b, 'slots');
  mkdirSync(join(esp, 'loader', 'entries'), { recursive: true });
  mkdirSync(join(esp, 'sipreg', 'a'), { recursive: true });
  mkdirSync(slots, { recursive: true });
  writeFileSync(join(esp, 'loader', 'entries', 'sipreg-1-a.conf'), entryText('a', '1.0.0', OPTIONS));
  writeFileSync(join(esp, 'sipreg', 'a', 'manifest.json'), JSON.stringify({ version: '1.0.0', arch: process.arch }));
  const before = randomBytes(400_000);
  writeFileSync(join(slots, 'sipreg-root-a'), randomBytes(1000));
  writeFileSync(join(slots, 'sipreg-root-b'), before);
  writeFileSync(join(b, 'cmdline'), `BOOT_IMAGE=/sipreg/a/vmlinuz ${OPTIONS}\n`);
  return { args: ['--esp', esp, '--slot-dir', slots, '--cmdline', join(b, 'cmdline'), '--efivars', join(b, 'none'),
    '--pubkey', trusted.pub, '--queue-dir', join(b, 'no-queue')], esp, slots, before };
}

t.test('entry names: the counter systemd-boot counts down, and its boot order', async (t) => {
  t.equal(entryName(7, 'b', 3), 'sipreg-7-b+3.conf');
  t.same(parseEntryName('sipreg-7-b+3.conf'), { file: 'sipreg-7-b+3.conf', generation: 7, slot: 'b', triesLeft: 3, triesDone: 0 });
  t.same(parseEntryName('sipreg-7-b+0-3.conf'), { file: 'sipreg-7-b+0-3.conf', generation: 7, slot: 'b', triesLeft: 0, triesDone: 3 });
  t.same(parseEntryName('sipreg-2-a.conf'), { file: 'sipreg-2-a.conf', generation: 2, slot: 'a', triesLeft: null, triesDone: 0 });
  t.equal(parseEntryName('sipreg-2-c.conf'), null);
  t.equal(parseEntryName('other.conf'), null);
  const order = (...names: string[]): string[] => bootOrder(names.map((n) => parseEntryName(n)!)).map((e) => e.file);
  // The newest install boots while it has tries; once they are used up the one before it does.
  t.same(order('sipreg-1-a.conf', 'sipreg-2-b+3.conf'), ['sipreg-2-b+3.conf', 'sipreg-1-a.conf']);
  t.same(order('sipreg-1-a.conf', 'sipreg-2-b+1-2.conf'), ['sipreg-2-b+1-2.conf', 'sipreg-1-a.conf']);
  t.same(order('sipreg-1-a.conf', 'sipreg-2-b+0-3.conf'), ['sipreg-1-a.conf', 'sipreg-2-b+0-3.conf']);
  t.same(order('sipreg-9-a.conf', 'sipreg-10-b.conf'), ['sipreg-10-b.conf', 'sipreg-9-a.conf']);
  t.equal(bootedSlot(`initrd=x ${OPTIONS}`), 'a');
  t.equal(bootedSlot('root=PARTLABEL=sipreg-root-b'), 'b');
  t.equal(bootedSlot('root=PARTUUID=1234 ro'), null);
  t.match(entryText('b', '2.0.0', OPTIONS), /^options root=PARTLABEL=sipreg-root-b ro rootfstype=squashfs console=ttyS0,115200 quiet$/m);
});

t.test('a good bundle: slot b written and read back, its kernel on the ESP, an entry with tries', async (t) => {
  const b = box('good');
  const file = bundle('1.1.0');
  const r = runSipreg(['firmware', 'install', file, '--tries', '2', ...b.args]);
  t.equal(r.status, 0, r.stderr);
  t.match(r.stdout, /installed sipreg 1\.1\.0 in slot b \(running: 1\.0\.0\)/);
  const slot = readFileSync(join(b.slots, 'sipreg-root-b'));
  t.ok(slot.subarray(0, payload.root.length).equals(payload.root), 'the root is at the start of slot b');
  t.ok(readFileSync(join(b.esp, 'sipreg', 'b', 'vmlinuz')).equals(payload.kernel));
  t.ok(readFileSync(join(b.esp, 'sipreg', 'b', 'initrd.img')).equals(payload.initrd));
  t.same(readdirSync(join(b.esp, 'loader', 'entries')).sort(), ['sipreg-1-a.conf', 'sipreg-2-b+2.conf']);
  const entry = readFileSync(join(b.esp, 'loader', 'entries', 'sipreg-2-b+2.conf'), 'utf8');
  t.match(entry, /^linux \/sipreg\/b\/vmlinuz$/m);
  t.match(entry, /^options root=PARTLABEL=sipreg-root-b ro rootfstype=squashfs console=ttyS0,115200 quiet$/m);
  const manifest = JSON.parse(readFileSync(join(b.esp, 'sipreg', 'b', 'manifest.json'), 'utf8'));
  t.equal(manifest.version, '1.1.0');
  t.equal(manifest.rootSha256, createHash('sha256').update(payload.root).digest('hex'));

  const st = runSipreg(['firmware', 'status', ...b.args]);
  t.equal(st.status, 0, st.stderr);
  t.match(st.stdout, /^slot a +1\.0\.0 +booted +blessed +sipreg-1-a\.conf$/m);
  t.match(st.stdout, /^slot b +1\.1\.0 +on trial, 2 tries left +sipreg-2-b\+2\.conf$/m);
  t.match(st.stdout, /^next boot: slot b$/m);
  t.match(st.stdout, /^last result: slot b \(1\.1\.0\): installed, boots next \(2 tries\)$/m);

  // systemd-boot used the tries up: the box is back on a, and says so.
  writeFileSync(join(b.esp, 'loader', 'entries', 'sipreg-2-b+0-2.conf'), entry);
  execFileSync('rm', [join(b.esp, 'loader', 'entries', 'sipreg-2-b+2.conf')]);
  const json = JSON.parse(runSipreg(['firmware', 'status', '--json', ...b.args]).stdout);
  t.equal(json.nextBoot, 'a');
  t.equal(json.slots[1].state, 'failed');
  t.equal(json.lastResult, 'slot b (1.1.0): failed to come up in 2 boots; the box went back to slot a');

  // A new install replaces the failed entry and gets the next generation.
  const again = runSipreg(['firmware', 'install', bundle('1.1.1'), ...b.args]);
  t.equal(again.status, 0, again.stderr);
  t.same(readdirSync(join(b.esp, 'loader', 'entries')).sort(), ['sipreg-1-a.conf', 'sipreg-3-b+3.conf']);
});

t.test('refused before anything is written: bad signature, wrong arch, corrupt, truncated, not a bundle', async (t) => {
  const b = box('bad');
  const good = readFileSync(bundle('1.2.0', { out: join(dir, 'bad-src') }));
  const corrupt = Buffer.from(good);
  corrupt[corrupt.length - 40_000 - 30_000 - 10]! ^= 0xff; // inside the root part
  const cases: [string, string, RegExp][] = [
    ['bad signature', bundle('1.2.0', { key: stranger.key }), /bad signature: the manifest was not signed by the key this box trusts/],
    ['wrong arch', bundle('1.2.0', { arch: process.arch === 'arm64' ? 'x64' : 'arm64' }), new RegExp(`a bundle for \\w+, this box is ${process.arch}`)],
    ['corrupt', join(dir, 'corrupt.fw'), /corrupt: part root does not match its SHA-256/],
    ['truncated', join(dir, 'truncated.fw'), /corrupt: \d+ bytes, the manifest promises \d+/],
    ['not a bundle', join(dir, 'root'), /not a sipreg firmware bundle/],
  ];
  writeFileSync(join(dir, 'corrupt.fw'), corrupt);
  writeFileSync(join(dir, 'truncated.fw'), good.subarray(0, good.length - 1));
  // The signature covers the manifest: a manifest edited after signing (another version) is refused too.
  const edited = Buffer.from(good.toString('latin1').replace('"version": "1.2.0"', '"version": "9.2.0"'), 'latin1');
  writeFileSync(join(dir, 'edited.fw'), edited);
  cases.push(['edited manifest', join(dir, 'edited.fw'), /bad signature/]);
  for (const [what, file, reason] of cases) {
    const r = runSipreg(['firmware', 'install', file, ...b.args]);
    t.equal(r.status, 1, `${what}: exit 1`);
    t.match(r.stderr, /refused, nothing written: /, what);
    t.match(r.stderr, reason, what);
    t.ok(readFileSync(join(b.slots, 'sipreg-root-b')).equals(b.before), `${what}: slot b untouched`);
    t.same(readdirSync(join(b.esp, 'loader', 'entries')), ['sipreg-1-a.conf'], `${what}: entries untouched`);
    t.notOk(existsSync(join(b.esp, 'sipreg', 'b')), `${what}: no kernel written`);
  }
});

t.test('refused while the running slot is on trial (its fallback would be overwritten)', async (t) => {
  const b = box('trial');
  const entries = join(b.esp, 'loader', 'entries');
  execFileSync('mv', [join(entries, 'sipreg-1-a.conf'), join(entries, 'sipreg-1-a+2-1.conf')]);
  const r = runSipreg(['firmware', 'install', bundle('1.3.0'), ...b.args]);
  t.equal(r.status, 1);
  t.match(r.stderr, /the running slot a is still on trial/);
  t.ok(readFileSync(join(b.slots, 'sipreg-root-b')).equals(b.before));
});

t.test('unprivileged: verified by the caller, handed to the install service through its queue', async (t) => {
  const b = box('queue');
  const queue = join(dir, 'queue', 'q');
  const work = join(dir, 'queue', 'work');
  mkdirSync(queue, { recursive: true });
  mkdirSync(work, { recursive: true, mode: 0o700 });
  const file = bundle('1.4.0');
  // The caller cannot write the slots. Run as root (CI), it is user nobody, as admin is on the box.
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    execFileSync('chmod', ['0755', dir]);
    execFileSync('chmod', ['0777', queue]);
    execFileSync('chmod', ['0644', file, trusted.pub]);
  } else {
    execFileSync('chmod', ['a-w', join(b.slots, 'sipreg-root-b')]);
  }
  const args = b.args.map((a) => (a.endsWith('no-queue') ? queue : a));
  const cmd = sipregCommand();
  const client = spawn(cmd.file, [...cmd.prefix, 'firmware', 'install', file, '--tries', '2', '--timeout', '120', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: '/', ...(asRoot ? { uid: 65534, gid: 65534, env: { ...process.env, HOME: '/nonexistent' } } : {}) });
  let out = '';
  client.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  client.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  // The service side, as sipreg-firmware.path starts it once a request is there.
  const deadline = Date.now() + 60_000;
  while (!readdirSync(queue).some((n) => n.startsWith('request-')) && Date.now() < deadline && client.exitCode === null) await sleep(100);
  t.ok(readFileSync(join(b.slots, 'sipreg-root-b')).equals(b.before), 'nothing written by the caller');
  if (!asRoot) execFileSync('chmod', ['u+w', join(b.slots, 'sipreg-root-b')]);
  const s = runSipreg(['firmware', 'install', '--queued', queue, '--work-dir', work, ...args]);
  t.equal(s.status, 0, `service: ${s.stderr}`);
  const code = await new Promise<number | null>((resolve) => (client.exitCode !== null ? resolve(client.exitCode) : client.on('exit', resolve)));
  t.equal(code, 0, out);
  t.match(out, /verified: sipreg 1\.4\.0/);
  t.match(out, /handed to sipreg-firmware\.service/);
  t.match(out, /installed sipreg 1\.4\.0 in slot b/);
  t.match(out, /boot entry sipreg-2-b\+2\.conf: slot b boots next, 2 tries/, 'the tries asked for reach the service');
  t.same(readdirSync(queue), [], 'request and result taken away');
  t.same(readdirSync(work), [], 'the service\'s copy removed');
  t.ok(readFileSync(join(b.slots, 'sipreg-root-b')).subarray(0, payload.root.length).equals(payload.root));
});

t.test('the install service: a request that is a link is not followed', async (t) => {
  const b = box('link');
  const queue = join(dir, 'link-q');
  const work = join(dir, 'link-work');
  mkdirSync(queue);
  mkdirSync(work);
  execFileSync('ln', ['-s', bundle('1.5.0'), join(queue, 'request-0123456789abcdef.fw')]);
  const s = runSipreg(['firmware', 'install', '--queued', queue, '--work-dir', work, ...b.args]);
  t.equal(s.status, 1);
  const result = JSON.parse(readFileSync(join(queue, 'result-0123456789abcdef.json'), 'utf8'));
  t.equal(result.code, 1);
  t.match(result.lines.join('\n'), /failed: ELOOP/);
  t.ok(readFileSync(join(b.slots, 'sipreg-root-b')).equals(b.before));
});
