/**
 * The config file with the SHA-256 of the bytes parsed, so the service can record which file content it
 * has in force and a reader can tell whether the file on disk is still that content.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadConfig, parseConfigText, type LoadResult } from './load.js';

export interface FingerprintedLoad extends LoadResult {
  /** SHA-256 (hex) of the bytes parsed; null when the file could not be read. */
  readonly sha256: string | null;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The file's SHA-256 now, or null when it cannot be read. */
export function fileSha256(file: string): string | null {
  try {
    return sha256Hex(readFileSync(file));
  } catch {
    return null;
  }
}

/** loadConfig, plus the hash of exactly the bytes it parsed (one read: no race with an edit). */
export function loadConfigFingerprinted(file: string): FingerprintedLoad {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return { ...loadConfig(file), sha256: null };
  }
  return { ...parseConfigText(bytes.toString('utf8'), file), sha256: sha256Hex(bytes) };
}
