// An install asked for by a person (`sipreg firmware install`, the console's Firmware menu): every check
// that needs no writing first, as whoever asks; then the install itself when this process may write the
// slot and the ESP (root), else the hand-over to the root service through its queue (queue.ts).
import { accessSync, constants, existsSync } from 'node:fs';
import { BundleError } from './bundle.js';
import { checkBundle, installBundle } from './install.js';
import { entriesDir, slotDevice, type FirmwareLayout } from './layout.js';
import { submitToQueue } from './queue.js';

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Installs `file`; `say` gets each line for the person. Resolves with the exit code (0 installed, 1 not). */
export async function requestInstall(file: string, l: FirmwareLayout, tries: number, timeoutMs: number, say: (line: string) => void): Promise<number> {
  try {
    const { manifest, target } = checkBundle(file, l, process.arch);
    if (writable(slotDevice(l, target)) && writable(entriesDir(l))) {
      const r = installBundle(file, l, process.arch, tries, say);
      say(`installed sipreg ${r.manifest.version} in slot ${r.slot}${r.from === null ? '' : ` (running: ${r.from})`}; reboot to try it`);
      return 0;
    }
    if (!existsSync(l.queueDir) || !writable(l.queueDir)) {
      say(`cannot write slot ${target} (${slotDevice(l, target)}) and no install service queue at ${l.queueDir}: run as root`);
      return 1;
    }
    say(`verified: sipreg ${manifest.version} for ${manifest.arch}`);
    const r = await submitToQueue(file, l, tries, timeoutMs, say);
    for (const line of r.lines) say(line);
    return r.code;
  } catch (err) {
    if (err instanceof BundleError) {
      say(`refused, nothing written: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
