/**
 * The box's memory as the kernel sees it: how much is available (MemAvailable: free plus what can be
 * reclaimed without swapping) and how often tasks stalled waiting for memory (PSI, "some": the share of
 * time at least one task waited). On a 256 MiB gateway the service, an admin command and the kernel's
 * page cache share little: when the cache holding the executable's code is squeezed out, everything
 * slows (the service still runs, but each page of its code is read again). Linux only; null elsewhere
 * or when /proc does not say.
 */
import { readFileSync } from 'node:fs';

export interface BoxMemory {
  readonly totalBytes: number;
  readonly availableBytes: number;
  /** % of the last 10 s / 60 s in which some task waited for memory; null without PSI (CONFIG_PSI). */
  readonly pressureSome10: number | null;
  readonly pressureSome60: number | null;
}

/** MemTotal and MemAvailable of a /proc/meminfo text, in bytes; null when either is missing. */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } | null {
  const kib = (name: string): number | null => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(text);
    return m === null ? null : Number(m[1]) * 1024;
  };
  const totalBytes = kib('MemTotal');
  const availableBytes = kib('MemAvailable');
  return totalBytes === null || availableBytes === null ? null : { totalBytes, availableBytes };
}

/** avg10 and avg60 of the "some" line of a /proc/pressure/memory text; null when it has none. */
export function parsePressure(text: string): { some10: number; some60: number } | null {
  const m = /^some avg10=(\d+(?:\.\d+)?) avg60=(\d+(?:\.\d+)?)/m.exec(text);
  return m === null ? null : { some10: Number(m[1]), some60: Number(m[2]) };
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function readBoxMemory(): BoxMemory | null {
  const meminfo = read('/proc/meminfo');
  const mem = meminfo === null ? null : parseMeminfo(meminfo);
  if (mem === null) return null;
  const psiText = read('/proc/pressure/memory');
  const psi = psiText === null ? null : parsePressure(psiText);
  return { ...mem, pressureSome10: psi?.some10 ?? null, pressureSome60: psi?.some60 ?? null };
}
