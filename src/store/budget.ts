// The store's size limit: the budget from SS_STORE_MAX_MB or the data_dir's file system,
// and the file system's own room (statfs). No imports from the rest of store/: open.ts sizes the map by it.
import { statfsSync } from 'node:fs';
import { storeLimits } from '../limits.js';

export interface FileSystemSpace {
  /** Size of the file system holding data_dir. */
  readonly totalBytes: number;
  /** What an unprivileged process (the service's user) may still write there. */
  readonly freeBytes: number;
}

export function fileSystemSpace(dir: string): FileSystemSpace {
  const s = statfsSync(dir);
  return { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
}

/** 32 on armv7 (and x86 32-bit): the store's map must then fit a 32-bit address space. */
export const processAddressBits: 32 | 64 = process.arch === 'arm' || process.arch === 'ia32' ? 32 : 64;

/**
 * The store size limit in bytes: SS_STORE_MAX_MB when set, else (0) the auto one: a share of the
 * data_dir's file system, never more than budgetAutoMaxBytes, never less than budgetMinBytes. In a 32-bit
 * process neither is more than budget32BitMaxBytes.
 */
export function budgetBytesFor(configuredMiB: number, fileSystemTotalBytes: number, addressBits = processAddressBits): number {
  const cap = addressBits === 32 ? storeLimits.budget32BitMaxBytes : Number.MAX_SAFE_INTEGER;
  if (configuredMiB > 0) return Math.min(cap, configuredMiB * 1024 * 1024);
  const share = Math.floor(fileSystemTotalBytes * storeLimits.budgetAutoFileSystemShare);
  return Math.max(storeLimits.budgetMinBytes, Math.min(storeLimits.budgetAutoMaxBytes, cap, share));
}

/** The memory map the service opens the store with (storeLimits.mapSizeBudgetFactor says why). */
export function mapSizeFor(budgetBytes: number): number {
  return Math.ceil((budgetBytes * storeLimits.mapSizeBudgetFactor) / 0x100000) * 0x100000;
}
