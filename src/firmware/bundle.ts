// The firmware bundle, made by image/firmware-bundle.mjs:
//   "SIPREGFW" | u32 BE manifest length | manifest (JSON) | u32 BE signature length | Ed25519 signature
//   over the manifest's bytes | the parts' bytes, one after the other in the manifest's order.
// The manifest names the product, the version, the arch and each part (root squashfs, kernel, initrd)
// with its size and SHA-256. Nothing in a bundle is trusted before the signature over the manifest
// checks out, and no part before its hash does: verifyBundle reads the whole file before anyone writes.
import { closeSync, fstatSync, openSync, readSync, readFileSync } from 'node:fs';
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';

const MAGIC = Buffer.from('SIPREGFW', 'latin1');
const FORMAT = 1;
const MANIFEST_MAX = 64 * 1024;
const VERSION_RE = /^[0-9A-Za-z][0-9A-Za-z.+~-]{0,63}$/;
export const PART_NAMES = ['root', 'kernel', 'initrd'] as const;
export type PartName = typeof PART_NAMES[number];

export interface BundlePart {
  readonly name: PartName;
  readonly size: number;
  readonly sha256: string;
  /** Where its bytes start in the bundle file. */
  readonly offset: number;
}

export interface Manifest {
  readonly version: string;
  readonly arch: string;
  readonly created: string;
  readonly parts: readonly BundlePart[];
}

/** A bundle that cannot be installed: the message says why, for the installer. */
export class BundleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleError';
  }
}

export function loadPublicKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(file));
  } catch (err) {
    throw new BundleError(`${file}: not a public key (${err instanceof Error ? err.message : String(err)})`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new BundleError(`${file}: an ${String(key.asymmetricKeyType)} key, not ed25519`);
  return key;
}

function readExactly(fd: number, length: number, position: number, what: string): Buffer {
  const buf = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) throw new BundleError(`truncated: the file ends inside the ${what}`);
    got += n;
  }
  return buf;
}

/** The manifest's JSON, checked for shape; offsets computed from where the parts begin. */
function parseManifest(bytes: Buffer, partsStart: number): Manifest {
  let m: unknown;
  try {
    m = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new BundleError('the manifest is not JSON');
  }
  const o = m as { format?: unknown; product?: unknown; version?: unknown; arch?: unknown; created?: unknown; parts?: unknown };
  if (o.format !== FORMAT) throw new BundleError(`bundle format ${String(o.format)}, this sipreg reads format ${FORMAT}`);
  if (o.product !== 'sipreg') throw new BundleError(`a bundle for '${String(o.product)}', not sipreg`);
  if (typeof o.version !== 'string' || !VERSION_RE.test(o.version)) throw new BundleError('the manifest has no valid version');
  if (typeof o.arch !== 'string') throw new BundleError('the manifest names no arch');
  if (!Array.isArray(o.parts) || o.parts.length !== PART_NAMES.length) throw new BundleError('the manifest does not list root, kernel and initrd');
  let offset = partsStart;
  const parts = o.parts.map((raw: unknown, i: number): BundlePart => {
    const p = raw as { name?: unknown; size?: unknown; sha256?: unknown };
    if (p.name !== PART_NAMES[i]) throw new BundleError(`part ${i + 1} is '${String(p.name)}', expected '${PART_NAMES[i]!}'`);
    if (typeof p.size !== 'number' || !Number.isSafeInteger(p.size) || p.size <= 0) throw new BundleError(`part ${p.name}: no valid size`);
    if (typeof p.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(p.sha256)) throw new BundleError(`part ${p.name}: no valid sha256`);
    const part: BundlePart = { name: PART_NAMES[i]!, size: p.size, sha256: p.sha256, offset };
    offset += p.size;
    return part;
  });
  return { version: o.version, arch: o.arch, created: typeof o.created === 'string' ? o.created : '', parts };
}

/**
 * Reads and checks the whole bundle: its signature against `publicKey`, then the arch (`arch`, this
 * machine's), then the file's length and each part's SHA-256. Throws BundleError with the reason.
 */
export function verifyBundle(file: string, publicKey: KeyObject, arch: string): Manifest {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw new BundleError(`cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new BundleError(`${file} is not a regular file`);
    const head = readExactly(fd, MAGIC.length + 4, 0, 'header');
    if (!head.subarray(0, MAGIC.length).equals(MAGIC)) throw new BundleError('not a sipreg firmware bundle (no SIPREGFW header)');
    const manifestLength = head.readUInt32BE(MAGIC.length);
    if (manifestLength === 0 || manifestLength > MANIFEST_MAX) throw new BundleError(`manifest length ${manifestLength} out of range`);
    const manifestBytes = readExactly(fd, manifestLength, head.length, 'manifest');
    const sigAt = head.length + manifestLength;
    const signatureLength = readExactly(fd, 4, sigAt, 'signature length').readUInt32BE(0);
    if (signatureLength !== 64) throw new BundleError(`signature of ${signatureLength} bytes, an Ed25519 signature has 64`);
    const signature = readExactly(fd, signatureLength, sigAt + 4, 'signature');
    if (!verify(null, manifestBytes, publicKey, signature)) {
      throw new BundleError('bad signature: the manifest was not signed by the key this box trusts');
    }
    const manifest = parseManifest(manifestBytes, sigAt + 4 + signatureLength);
    if (manifest.arch !== arch) throw new BundleError(`a bundle for ${manifest.arch}, this box is ${arch}`);
    const last = manifest.parts[manifest.parts.length - 1]!;
    const expected = last.offset + last.size;
    if (st.size !== expected) throw new BundleError(`corrupt: ${st.size} bytes, the manifest promises ${expected}`);
    const buf = Buffer.alloc(1 << 20);
    for (const part of manifest.parts) {
      const h = createHash('sha256');
      for (let done = 0; done < part.size;) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, part.size - done), part.offset + done);
        if (n === 0) throw new BundleError(`truncated inside part ${part.name}`);
        h.update(buf.subarray(0, n));
        done += n;
      }
      if (h.digest('hex') !== part.sha256) throw new BundleError(`corrupt: part ${part.name} does not match its SHA-256`);
    }
    return manifest;
  } finally {
    closeSync(fd);
  }
}

export function isVersion(text: string): boolean {
  return VERSION_RE.test(text);
}
