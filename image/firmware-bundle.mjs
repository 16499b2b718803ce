#!/usr/bin/env node
// Makes a signed firmware bundle, sipreg-<arch>-<version>.fw (read by src/firmware/bundle.ts, which
// documents the format): the root squashfs, kernel and initrd of an image build, a manifest (version,
// arch, sizes, SHA-256s) and an Ed25519 signature over the manifest's bytes.
//
//   node image/firmware-bundle.mjs --key KEY.pem --version V --arch x64 --root root.squashfs \
//        --kernel vmlinuz --initrd initrd.img --out DIR [--public-out firmware.pub]
//   node image/firmware-bundle.mjs --dev-key DIR      prints the path of DIR/dev-firmware.key, made if missing
//
// The key is a PKCS#8 PEM Ed25519 private key (openssl genpkey -algorithm ed25519). --public-out writes its
// public key (SPKI PEM), the one the image carries as /usr/share/sipreg/firmware.pub.
import fs from 'node:fs';
import path from 'node:path';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';

const MAGIC = Buffer.from('SIPREGFW', 'latin1');
const FORMAT = 1;

function fail(message) {
  process.stderr.write(`firmware-bundle: ${message}\n`);
  process.exit(1);
}

const args = {};
for (let i = 2; i < process.argv.length; i += 2) {
  const name = process.argv[i];
  if (!name.startsWith('--') || process.argv[i + 1] === undefined) fail(`bad argument ${name}`);
  args[name.slice(2)] = process.argv[i + 1];
}

if (args['dev-key'] !== undefined) {
  const file = path.join(args['dev-key'], 'dev-firmware.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(args['dev-key'], { recursive: true, mode: 0o700 });
    const { privateKey } = generateKeyPairSync('ed25519');
    fs.writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    process.stderr.write(`firmware-bundle: made a development signing key ${file} (not for boxes in the field)\n`);
  }
  process.stdout.write(`${file}\n`);
  process.exit(0);
}

for (const a of ['key', 'version', 'arch', 'root', 'kernel', 'initrd', 'out']) if (args[a] === undefined) fail(`--${a} missing`);
if (!/^[0-9A-Za-z][0-9A-Za-z.+~-]{0,63}$/.test(args.version)) fail(`version '${args.version}' is not a version`);
let privateKey;
try {
  privateKey = createPrivateKey(fs.readFileSync(args.key));
} catch (err) {
  fail(`${args.key}: not a private key (${err.message})`);
}
if (privateKey.asymmetricKeyType !== 'ed25519') fail(`${args.key}: an ${privateKey.asymmetricKeyType} key, not ed25519`);

function sha256(file) {
  const h = createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
  fs.closeSync(fd);
  return h.digest('hex');
}

const parts = [['root', args.root], ['kernel', args.kernel], ['initrd', args.initrd]].map(([name, file]) => {
  if (!fs.existsSync(file)) fail(`${file} missing`);
  return { name, size: fs.statSync(file).size, sha256: sha256(file), file };
});
const manifest = Buffer.from(JSON.stringify({
  format: FORMAT,
  product: 'sipreg',
  version: args.version,
  arch: args.arch,
  created: new Date((Number(process.env.SOURCE_DATE_EPOCH) || Date.now() / 1000) * 1000).toISOString(),
  parts: parts.map(({ name, size, sha256: h }) => ({ name, size, sha256: h })),
}, null, 2) + '\n');
const signature = sign(null, manifest, privateKey);

const header = Buffer.alloc(MAGIC.length + 4 + manifest.length + 4 + signature.length);
let p = MAGIC.copy(header, 0);
p = header.writeUInt32BE(manifest.length, p);
p += manifest.copy(header, p);
p = header.writeUInt32BE(signature.length, p);
signature.copy(header, p);

fs.mkdirSync(args.out, { recursive: true });
const out = path.join(args.out, `sipreg-${args.arch}-${args.version}.fw`);
const fd = fs.openSync(`${out}.tmp`, 'w');
fs.writeSync(fd, header);
for (const part of parts) {
  const src = fs.openSync(part.file, 'r');
  const buf = Buffer.alloc(1 << 20);
  for (let n; (n = fs.readSync(src, buf, 0, buf.length, null)) > 0;) fs.writeSync(fd, buf, 0, n);
  fs.closeSync(src);
}
fs.fsyncSync(fd);
fs.closeSync(fd);
fs.renameSync(`${out}.tmp`, out);
if (args['public-out'] !== undefined) {
  fs.writeFileSync(args['public-out'], createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }));
}
process.stdout.write(`${out}\n`);
