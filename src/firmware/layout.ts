// Where the firmware lives on the appliance, and what it says about itself. Every path can be changed
// (the firmware command's flags) so the whole of it runs against files in a test directory: slot
// "partitions" as regular files, an ESP as a directory.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseEntryName, bootedSlot, SLOTS, slotLabel, type BootEntry, type Slot } from './entries.js';

export interface FirmwareLayout {
  /** The mounted ESP: loader/entries/, sipreg/<slot>/{vmlinuz,initrd.img,manifest.json}. */
  readonly espDir: string;
  /** The root slots are <slotDir>/sipreg-root-a and -b (partitions by GPT label on the appliance). */
  readonly slotDir: string;
  /** The running kernel's command line: it names the booted slot. */
  readonly cmdlineFile: string;
  /** efivarfs: systemd-boot's LoaderEntrySelected says which entry booted. */
  readonly efivarsDir: string;
  /** The Ed25519 public key bundles must be signed for. */
  readonly publicKeyFile: string;
  /** Where an unprivileged `sipreg firmware install` leaves a bundle for the root service. */
  readonly queueDir: string;
}

export const APPLIANCE_LAYOUT: FirmwareLayout = {
  espDir: '/efi',
  slotDir: '/dev/disk/by-partlabel',
  cmdlineFile: '/proc/cmdline',
  efivarsDir: '/sys/firmware/efi/efivars',
  publicKeyFile: '/usr/share/sipreg/firmware.pub',
  queueDir: '/var/lib/sipreg-firmware',
};

const LOADER_GUID = '4a67b082-0a4c-41cf-b6c7-440b29bb8c4f';

export function entriesDir(l: FirmwareLayout): string {
  return join(l.espDir, 'loader', 'entries');
}

export function slotFilesDir(l: FirmwareLayout, slot: Slot): string {
  return join(l.espDir, 'sipreg', slot);
}

export function slotDevice(l: FirmwareLayout, slot: Slot): string {
  return join(l.slotDir, slotLabel(slot));
}

export function readEntries(l: FirmwareLayout): BootEntry[] {
  let names: string[];
  try {
    names = readdirSync(entriesDir(l));
  } catch {
    return [];
  }
  return names.map(parseEntryName).filter((e): e is BootEntry => e !== null);
}

export function readBootedSlot(l: FirmwareLayout): Slot | null {
  try {
    return bootedSlot(readFileSync(l.cmdlineFile, 'utf8'));
  } catch {
    return null;
  }
}

/** The entry systemd-boot booted (its file name without `.conf` as it was at boot), or null. */
export function readSelectedEntry(l: FirmwareLayout): string | null {
  try {
    const raw = readFileSync(join(l.efivarsDir, `LoaderEntrySelected-${LOADER_GUID}`));
    return raw.subarray(4).toString('utf16le').replace(/\0+$/, '');
  } catch {
    return null;
  }
}

export interface SlotManifest {
  readonly version: string;
  readonly arch: string;
  /** null: written by the image build (the factory install). */
  readonly installedAt: string | null;
  readonly rootSha256: string;
}

/** What the installer wrote beside a slot's kernel; the factory image writes one for slot a. */
export function readSlotManifest(l: FirmwareLayout, slot: Slot): SlotManifest | null {
  try {
    const m = JSON.parse(readFileSync(join(slotFilesDir(l, slot), 'manifest.json'), 'utf8')) as Partial<SlotManifest>;
    if (typeof m.version !== 'string') return null;
    return { version: m.version, arch: String(m.arch ?? ''), installedAt: typeof m.installedAt === 'string' ? m.installedAt : null, rootSha256: String(m.rootSha256 ?? '') };
  } catch {
    return null;
  }
}

export { SLOTS };
