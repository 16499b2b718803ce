// `sipreg firmware status`: both slots, their versions, which one booted, which is blessed, tries left,
// what boots next and how the last install ended.
import { bootOrder, entryState, otherSlot, SLOTS, type BootEntry, type Slot } from './entries.js';
import { readBootedSlot, readEntries, readSelectedEntry, readSlotManifest, type FirmwareLayout, type SlotManifest } from './layout.js';

export interface SlotStatus {
  readonly slot: Slot;
  readonly version: string | null;
  readonly installedAt: string | null;
  readonly booted: boolean;
  /** The slot's newest entry, or null when the slot has none (never installed, or its install was cut). */
  readonly entry: string | null;
  readonly state: 'blessed' | 'on trial' | 'failed' | 'no entry';
  readonly triesLeft: number | null;
  readonly triesDone: number;
}

export interface FirmwareStatus {
  readonly booted: Slot | null;
  readonly bootedEntry: string | null;
  readonly slots: readonly SlotStatus[];
  readonly nextBoot: Slot | null;
  readonly lastResult: string;
}

export function firmwareStatus(l: FirmwareLayout): FirmwareStatus {
  const entries = readEntries(l);
  const booted = readBootedSlot(l);
  const newest = (slot: Slot): BootEntry | null =>
    entries.filter((e) => e.slot === slot).sort((x, y) => y.generation - x.generation)[0] ?? null;
  const slots = SLOTS.map((slot): SlotStatus => {
    const e = newest(slot);
    const m: SlotManifest | null = readSlotManifest(l, slot);
    return {
      slot, version: m?.version ?? null, installedAt: m?.installedAt ?? null, booted: booted === slot,
      entry: e?.file ?? null, state: e === null ? 'no entry' : entryState(e), triesLeft: e?.triesLeft ?? null, triesDone: e?.triesDone ?? 0,
    };
  });
  const next = bootOrder(entries)[0] ?? null;
  return { booted, bootedEntry: readSelectedEntry(l), slots, nextBoot: next?.slot ?? null, lastResult: lastResult(entries, slots, booted) };
}

/** One sentence on the newest install (the entry with the highest generation). */
function lastResult(entries: readonly BootEntry[], slots: readonly SlotStatus[], booted: Slot | null): string {
  const last = [...entries].sort((x, y) => y.generation - x.generation)[0];
  if (last === undefined) return 'no boot entries found';
  const s = slots.find((x) => x.slot === last.slot)!;
  const what = `slot ${last.slot} (${s.version ?? 'unknown version'})`;
  switch (entryState(last)) {
    case 'blessed':
      return last.generation === 1 && last.triesDone === 0 && s.installedAt === null ? `${what}: factory install` : `${what}: installed, booted and blessed`;
    case 'on trial':
      return booted === last.slot
        ? `${what}: booted, on trial (${last.triesLeft} ${last.triesLeft === 1 ? 'try' : 'tries'} left); blessed once sipreg answers SIP`
        : `${what}: installed, boots next (${last.triesLeft} ${last.triesLeft === 1 ? 'try' : 'tries'})`;
    case 'failed':
      return `${what}: failed to come up in ${last.triesDone} ${last.triesDone === 1 ? 'boot' : 'boots'}; ` +
        `the box went back to slot ${otherSlot(last.slot)}`;
  }
}

export function formatStatus(st: FirmwareStatus): string {
  const lines = st.slots.map((s) => {
    const state = s.state === 'on trial' ? `on trial, ${s.triesLeft} ${s.triesLeft === 1 ? 'try' : 'tries'} left`
      : s.state === 'failed' ? `failed (${s.triesDone} tries used)` : s.state;
    return `slot ${s.slot}  ${(s.version ?? '-').padEnd(14)} ${(s.booted ? 'booted' : '').padEnd(7)} ${state.padEnd(28)} ${s.entry ?? ''}`.trimEnd();
  });
  return [
    ...lines,
    `booted: ${st.booted === null ? 'not from a sipreg slot' : `slot ${st.booted}`}${st.bootedEntry === null ? '' : ` (entry ${st.bootedEntry})`}`,
    `next boot: ${st.nextBoot === null ? 'no entry' : `slot ${st.nextBoot}`}`,
    `last result: ${st.lastResult}`,
    '',
  ].join('\n');
}
