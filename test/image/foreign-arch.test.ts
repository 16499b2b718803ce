// Issue 17: each foreign architecture's build is run where this machine can run it: under qemu-user
// (qemu-user-static) against Debian's cross sysroots, both installed by `make test-deps`. The builds are
// made here by image/build-binary.mjs into dist/cross/ (dist/sipreg stays the host's, which the other
// tests run); the downloads it needs are cached under image/cache/, so a rebuild only bundles (and for
// arm64 re-injects the blob when the code changed). Each arch: --version, `check` on the example config,
// and `run` answering OPTIONS and a digest REGISTER (a write to the store through the arch's lmdb addon).
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SipClient, answerChallenge } from '../registrar/sipclient.js';
import { exitOf, freeUdpPort, repoRoot, waitForLine, writeConfig } from '../helpers/sipreg.js';

const cross = join(repoRoot, 'dist', 'cross');
// Under TCG on a loaded 2-core machine a start of Node takes 5-25 s.
const START_MS = 180_000;

interface Target { arch: string; qemu: string; sysroot: string; command: string[]; nodeVersion: RegExp }
const targets: Target[] = [
  {
    arch: 'arm64', qemu: 'qemu-aarch64-static', sysroot: '/usr/aarch64-linux-gnu',
    command: [join(cross, 'sipreg-linux-arm64')], nodeVersion: new RegExp(`node ${process.version.replaceAll('.', '\\.')} linux-arm64$`),
  },
  {
    // armv7 is a directory (node + bundle + addon, image/build-binary.mjs says why); its launcher is a
    // shell script that execs the two below, which qemu-user runs without binfmt.
    arch: 'arm', qemu: 'qemu-arm-static', sysroot: '/usr/arm-linux-gnueabihf',
    command: [join(cross, 'sipreg-linux-arm', 'node'), join(cross, 'sipreg-linux-arm', 'sipreg.cjs')],
    nodeVersion: /node v20\.\d+\.\d+ linux-arm$/,
  },
].filter((x) => x.arch !== process.arch);

function qemuArgs(x: Target, args: readonly string[]): string[] {
  return ['-L', x.sysroot, ...x.command, ...args];
}

const logged = (msg: string) => (line: string): boolean => line.includes(`"msg":"${msg}"`);

for (const x of targets) {
  t.test(`${x.arch}: built, and runs under ${x.qemu}`, async (t) => {
    const build = spawnSync(process.execPath, [join(repoRoot, 'image', 'build-binary.mjs'), '--arch', x.arch, '--dist', cross],
      { encoding: 'utf8', timeout: 600_000 });
    t.equal(build.status, 0, `build-binary --arch ${x.arch}: ${build.stderr.slice(-2000)}`);
    for (const f of x.command) t.ok(existsSync(f), `${f} exists`);

    const version = spawnSync(x.qemu, qemuArgs(x, ['--version']), { encoding: 'utf8', timeout: START_MS });
    t.equal(version.status, 0, `--version exits 0 (${version.stderr})`);
    t.match(version.stdout.trim(), /^sipreg \d+\.\d+\.\d+ \(commit \w+\) /);
    t.match(version.stdout.trim(), x.nodeVersion, 'the runtime is the target architecture\'s Node 20');

    const check = spawnSync(x.qemu, qemuArgs(x, ['check', '-c', join(repoRoot, 'etc', 'sipreg.yaml')]),
      { encoding: 'utf8', timeout: START_MS });
    t.equal(check.status, 0, `check on etc/sipreg.yaml exits 0 (${check.stderr})`);
    t.match(check.stdout, /^OK: \d+ accounts?/);

    const port = await freeUdpPort();
    const password = randomBytes(9).toString('hex');
    const file = writeConfig(`sip:\n  listen: ["127.0.0.1:${port}"]\n  realm: "foreign"\ndata_dir: "@DATA@"\n` +
      `accounts:\n  - number: "1001"\n    password: "${password}"\n`);
    const child: ChildProcess = spawn(x.qemu, qemuArgs(x, ['run', '-c', file]), { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => { stderr += c.toString(); });
    t.teardown(() => { child.kill('SIGKILL'); });
    await waitForLine(child, logged('sipreg started'), START_MS);

    const phone = await SipClient.open(port);
    t.teardown(() => phone.close());
    const branch = `z9hG4bK${randomBytes(8).toString('hex')}`;
    const options = await phone.request([
      `OPTIONS sip:127.0.0.1:${port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${phone.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:probe@127.0.0.1>;tag=${randomBytes(4).toString('hex')}`,
      `To: <sip:127.0.0.1:${port}>`,
      `Call-ID: ${randomBytes(8).toString('hex')}@foreign`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
      '', '',
    ].join('\r\n'), branch, 30_000);
    t.equal(options.status, 200, 'OPTIONS answered 200');

    const first = await phone.register({ user: '1001', expires: 600 }, 30_000);
    t.equal(first.status, 401, 'REGISTER challenged');
    const authorization = answerChallenge(first, '1001', password, 'sip:127.0.0.1');
    const final = await phone.register({ user: '1001', expires: 600, authorization }, 30_000);
    t.equal(final.status, 200, 'the digest REGISTER is stored and answered 200');
    t.match(final.header('contact') ?? '', new RegExp(`<sip:1001@127\\.0\\.0\\.1:${phone.port}>;expires=\\d+`));

    child.kill('SIGTERM');
    const { code } = await exitOf(child, START_MS);
    t.equal(code, 0, 'exit 0 on SIGTERM');
    t.equal(stderr, '', 'nothing on stderr');
  });
}
