// systemd-boot entries of the two root slots on the ESP, with boot counting (systemd's "Automatic Boot
// Assessment"): loader/entries/sipreg-<generation>-<slot>[+<left>[-<done>]].conf. systemd-boot takes
// `default sipreg-*` (loader.conf) as the first matching entry in its order: entries with tries left or no
// counter before those with none left, then by name, highest version first: the highest generation, the
// newest install, boots unless it has used up its tries; then the one before it does. systemd-boot renames
// the file at each try (+3 -> +2-1 -> ...); systemd-bless-boot.service drops the counter once
// boot-complete.target is reached (sipreg-boot-check.service), which blesses the entry for good.
export type Slot = 'a' | 'b';
export const SLOTS: readonly Slot[] = ['a', 'b'];

export interface BootEntry {
  readonly file: string;
  readonly generation: number;
  readonly slot: Slot;
  /** null: no counter, the entry is blessed (or never counted). */
  readonly triesLeft: number | null;
  readonly triesDone: number;
}

export type EntryState = 'blessed' | 'on trial' | 'failed';

const ENTRY_RE = /^sipreg-(\d{1,9})-([ab])(?:\+(\d{1,4})(?:-(\d{1,4}))?)?\.conf$/;

export function parseEntryName(file: string): BootEntry | null {
  const m = ENTRY_RE.exec(file);
  if (m === null) return null;
  return {
    file,
    generation: Number(m[1]),
    slot: m[2] as Slot,
    triesLeft: m[3] === undefined ? null : Number(m[3]),
    triesDone: m[4] === undefined ? 0 : Number(m[4]),
  };
}

/** The file name of a new entry: `tries` boots to prove itself. */
export function entryName(generation: number, slot: Slot, tries: number): string {
  return `sipreg-${generation}-${slot}+${tries}.conf`;
}

export function entryState(e: BootEntry): EntryState {
  if (e.triesLeft === null) return 'blessed';
  return e.triesLeft > 0 ? 'on trial' : 'failed';
}

export function otherSlot(slot: Slot): Slot {
  return slot === 'a' ? 'b' : 'a';
}

/** The entries in systemd-boot's order (first = what boots next with `default sipreg-*`). */
export function bootOrder(entries: readonly BootEntry[]): BootEntry[] {
  return [...entries].sort((x, y) => {
    const bad = Number(x.triesLeft === 0) - Number(y.triesLeft === 0);
    if (bad !== 0) return bad;
    if (x.generation !== y.generation) return y.generation - x.generation;
    return x.slot < y.slot ? 1 : x.slot > y.slot ? -1 : 0;
  });
}

/** The kernel command line's root for a slot; the image's entries name it this way. */
export function rootArg(slot: Slot): string {
  return `root=PARTLABEL=${slotLabel(slot)}`;
}

export function slotLabel(slot: Slot): string {
  return `sipreg-root-${slot}`;
}

/** The slot a kernel command line boots, or null when it names neither. */
export function bootedSlot(cmdline: string): Slot | null {
  const m = /(?:^|\s)root=PARTLABEL=sipreg-root-([ab])(?:\s|$)/.exec(cmdline);
  return m === null ? null : (m[1] as Slot);
}

/** An entry's text: the slot's kernel and initrd on the ESP, the options of the running entry with the
 *  root changed to the slot's (so console= and credentials an installer added stay). */
export function entryText(slot: Slot, version: string, options: string): string {
  const opts = options.replace(/(^|\s)root=\S+/, `$1${rootArg(slot)}`);
  return [
    `title sipreg ${version} (slot ${slot})`,
    `linux /sipreg/${slot}/vmlinuz`,
    `initrd /sipreg/${slot}/initrd.img`,
    `options ${opts.includes(rootArg(slot)) ? opts : `${rootArg(slot)} ${opts}`}`,
    '',
  ].join('\n');
}

/** The `options` line of an entry's text. */
export function entryOptions(text: string): string | null {
  const m = /^options[ \t]+(.*)$/m.exec(text);
  return m === null ? null : m[1]!.trim();
}
