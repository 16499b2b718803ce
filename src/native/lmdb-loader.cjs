'use strict';
// Stands in for `node-gyp-build-optional-packages` inside the bundle (image/build-binary.mjs maps it here).
// lmdb's dist/index.cjs calls `require('node-gyp-build-optional-packages')(dirName)` and expects the addon's
// exports back. The original loader cannot work in a Single Executable Application: there the main
// script's `require` loads built-in modules only, and there is no node_modules. So:
//
//   1. $SIPREG_LMDB_NATIVE, when set: that file (an escape hatch for debugging and tests);
//   2. inside the SEA: the `lmdb.node` asset, written out once per content hash to a private directory
//      ($RUNTIME_DIRECTORY, $CACHE_DIRECTORY, $XDG_CACHE_HOME/sipreg or ~/.cache/sipreg, else a private
//      directory under the temp dir) and loaded with process.dlopen;
//   3. outside it (`node dist/sipreg.cjs`, development): `lmdb.node` beside the bundle, then the prebuilt
//      addon of @lmdb/lmdb-linux-<arch> from node_modules.
//
// The write is crash-safe: an existing copy is trusted only if its size and SHA-256 match; a new copy goes
// to a temporary name, is fsynced, renamed into place, and the directory is fsynced. Without that, a power
// cut during the first start left a short file behind and the service crash-looped with
// ERR_DLOPEN_FAILED "file too short" (../shared/notes/image-feasibility.md).

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const crypto = require('node:crypto');
const { createRequire } = require('node:module');

const ASSET_NAME = 'lmdb.node';
const FILE_PREFIX = 'lmdb-';

function dlopen(file) {
  const mod = { exports: {} };
  process.dlopen(mod, file);
  return mod.exports;
}

function seaApi() {
  try {
    const sea = require('node:sea');
    return sea.isSea() ? sea : null;
  } catch {
    return null; // node:sea exists from Node 20.12; older Nodes are never a SEA of ours
  }
}

function firstPath(value) {
  // systemd passes one path per configured directory, separated by ':'.
  if (!value) return null;
  const first = value.split(':')[0];
  return first && path.isAbsolute(first) ? first : null;
}

function candidateDirs() {
  const dirs = [];
  const runtime = firstPath(process.env.RUNTIME_DIRECTORY);
  if (runtime) dirs.push({ dir: runtime, shared: false });
  const cache = firstPath(process.env.CACHE_DIRECTORY);
  if (cache) dirs.push({ dir: cache, shared: false });
  const xdg = firstPath(process.env.XDG_CACHE_HOME);
  if (xdg) dirs.push({ dir: path.join(xdg, 'sipreg'), shared: false });
  else if (process.env.HOME && process.env.HOME !== '/') {
    dirs.push({ dir: path.join(process.env.HOME, '.cache', 'sipreg'), shared: false });
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
  dirs.push({ dir: path.join(os.tmpdir(), `sipreg-${uid}`), shared: true });
  return dirs;
}

// A directory under a world-writable parent is used only if it is ours and nobody else can write to it;
// otherwise another user could plant a library for us to load.
function ensureDir(entry) {
  fs.mkdirSync(entry.dir, { recursive: true, mode: 0o700 });
  if (!entry.shared) return entry.dir;
  const st = fs.lstatSync(entry.dir);
  const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid;
  if (st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0) return entry.dir;
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sipreg-'));
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

function isIntact(file, byteLength, digest) {
  let st;
  try {
    st = fs.statSync(file);
  } catch {
    return false;
  }
  if (!st.isFile() || st.size !== byteLength) return false;
  return sha256(fs.readFileSync(file)) === digest;
}

function fsyncDir(dir) {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

function writeAtomically(dir, file, buf) {
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  const fd = fs.openSync(tmp, 'wx', 0o644);
  try {
    let offset = 0;
    while (offset < buf.length) offset += fs.writeSync(fd, buf, offset, buf.length - offset);
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fs.closeSync(fd);
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(dir);
}

// Copies left by earlier versions of the binary; a process that still maps one keeps its mapping.
function removeStale(dir, keep) {
  try {
    for (const name of fs.readdirSync(dir)) {
      if (name.startsWith(FILE_PREFIX) && name.endsWith('.node') && name !== keep) {
        fs.rmSync(path.join(dir, name), { force: true });
      }
    }
  } catch {
    // best effort: a stale copy only costs disk space
  }
}

// Writes the asset out and loads it from the first directory where both work. A directory on a noexec
// mount (/run is one under some systemd versions, /tmp often is) fails in dlopen with "failed to map
// segment from shared object": that is not fatal, the next directory is tried.
function loadAsset(sea) {
  const buf = Buffer.from(sea.getAsset(ASSET_NAME));
  const digest = sha256(buf);
  const name = `${FILE_PREFIX}${digest.slice(0, 16)}.node`;
  const failures = [];
  for (const entry of candidateDirs()) {
    let file;
    try {
      const dir = ensureDir(entry);
      file = path.join(dir, name);
      if (!isIntact(file, buf.length, digest)) {
        writeAtomically(dir, file, buf);
        removeStale(dir, name);
      }
    } catch (err) {
      failures.push(`${entry.dir}: ${err && err.code ? err.code : err}`);
      continue;
    }
    try {
      return dlopen(file);
    } catch (err) {
      failures.push(`${file}: ${err && err.message ? err.message : err}`);
    }
  }
  const err = new Error(`cannot write and load the lmdb addon in any directory (${failures.join('; ')})`);
  err.code = 'ERR_SIPREG_NATIVE_EXTRACT';
  throw err;
}

function devCandidates() {
  const files = [path.join(__dirname, ASSET_NAME)];
  try {
    const req = createRequire(path.join(__dirname, 'noop.js'));
    const pkgDir = path.dirname(req.resolve(`@lmdb/lmdb-${process.platform}-${process.arch}/package.json`));
    files.push(path.join(pkgDir, `node.abi${process.versions.modules}.glibc.node`));
    files.push(path.join(pkgDir, 'node.napi.glibc.node'));
  } catch {
    // not installed here: only the file beside the bundle is left
  }
  return files;
}

function load(/* dirName: ignored, lmdb's own guess of where its package lives */) {
  const explicit = process.env.SIPREG_LMDB_NATIVE;
  if (explicit) return dlopen(path.resolve(explicit));
  const sea = seaApi();
  if (sea !== null) return loadAsset(sea);
  const tried = [];
  for (const file of devCandidates()) {
    if (fs.existsSync(file)) return dlopen(file);
    tried.push(file);
  }
  const err = new Error(`lmdb native addon not found (tried ${tried.join(', ')})`);
  err.code = 'ERR_SIPREG_NATIVE_MISSING';
  throw err;
}

module.exports = load;
module.exports.default = load;
