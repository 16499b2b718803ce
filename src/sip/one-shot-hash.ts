// crypto.hash, the one-shot digest (no Hash object per call), came with Node 20.12. The armv7 build runs
// Node 20.11, the newest Node 20 for linux-armv7l on the npm registry (image/build-binary.mjs): there the
// same digest comes from createHash. Chosen once at load, so the hot path calls one function either way.
import * as nodeCrypto from 'node:crypto';
import { createHash, type BinaryLike, type BinaryToTextEncoding } from 'node:crypto';

type OneShot = (algorithm: string, data: BinaryLike, outputEncoding: BinaryToTextEncoding) => string;

const builtIn = (nodeCrypto as { hash?: OneShot }).hash;

export const hash: OneShot = typeof builtIn === 'function'
  ? builtIn
  : (algorithm, data, outputEncoding) => createHash(algorithm).update(data).digest(outputEncoding);
