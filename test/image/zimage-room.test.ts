// Issue 17, armv7 at 256 MiB: image/build-image.sh runs image/zimage-room.mjs on the armv7 kernel, so the
// EFI image the firmware allocates covers the zImage decompressor's 64 KiB heap (without it the heap
// overwrote the EFI stub's memreserve table and the kernel hung before its console; the script says how).
// Checked on a PE header laid out as Debian's armmp zImage has it (6.1.0-50: SizeOfImage 0x533800).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/sipreg.js';

const script = join(repoRoot, 'image', 'zimage-room.mjs');
const PE = 0x40;
const OPTIONAL = PE + 24;
const SIZE_OF_IMAGE = OPTIONAL + 56;

/** The first bytes of an EFI zImage: MZ, PE32, two sections (.text, .data) ending at 0x533800. */
function zImageHeader(machine = 0x01c2): Buffer {
  const b = Buffer.alloc(0x1000);
  b.write('MZ', 0, 'latin1');
  b.writeUInt32LE(PE, 0x3c);
  b.write('PE\0\0', PE, 'latin1');
  b.writeUInt16LE(machine, PE + 4);
  b.writeUInt16LE(2, PE + 6); // sections
  b.writeUInt16LE(0xe0, PE + 20); // optional header size
  b.writeUInt16LE(0x010b, OPTIONAL); // PE32
  b.writeUInt32LE(0x1000, OPTIONAL + 32); // SectionAlignment
  b.writeUInt32LE(0x200, OPTIONAL + 36); // FileAlignment
  b.writeUInt32LE(0x533800, SIZE_OF_IMAGE);
  const sections = OPTIONAL + 0xe0;
  const section = (i: number, name: string, vsize: number, vaddr: number) => {
    b.write(name, sections + 40 * i, 'latin1');
    b.writeUInt32LE(vsize, sections + 40 * i + 8);
    b.writeUInt32LE(vaddr, sections + 40 * i + 12);
  };
  section(0, '.text', 0x531000, 0x1000);
  section(1, '.data', 0x1800, 0x532000);
  return b;
}

function run(file: string) {
  const r = spawnSync(process.execPath, [script, file], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

t.test('SizeOfImage covers the decompressor heap above the last section; nothing else changes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zimage-'));
  const file = join(dir, 'vmlinuz');
  const before = zImageHeader();
  writeFileSync(file, before);
  const r = run(file);
  t.equal(r.code, 0, r.err);
  t.match(r.out, /SizeOfImage 0x533800 -> 0x544000/);
  const after = readFileSync(file);
  t.equal(after.readUInt32LE(SIZE_OF_IMAGE), 0x544000, '0x533800 + 64 KiB, rounded up to the 4 KiB section alignment');
  const changed = [...after.keys()].filter((i) => after[i] !== before[i]);
  t.ok(changed.every((i) => i >= SIZE_OF_IMAGE && i < SIZE_OF_IMAGE + 4), `only SizeOfImage changed (bytes ${changed.join(', ')})`);

  const again = run(file);
  t.equal(again.code, 0);
  t.match(again.out, /SizeOfImage 0x544000 -> 0x544000/, 'a second run changes nothing');
  t.same(readFileSync(file), after);
});

t.test('a kernel that is not a 32-bit ARM EFI zImage is refused, untouched', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'zimage-'));
  const cases: Array<[string, Buffer, RegExp]> = [
    ['arm64 Image', zImageHeader(0xaa64), /PE machine 0xaa64 is not 32-bit ARM/],
    ['no MZ', Buffer.from('\x7fELF not a zImage at all, but long enough to read a header from it....'), /no MZ header/],
    ['truncated', zImageHeader().subarray(0, 0x50), /no PE header/],
  ];
  for (const [name, bytes, why] of cases) {
    const file = join(dir, name.replaceAll(' ', '-'));
    writeFileSync(file, bytes);
    const r = run(file);
    t.equal(r.code, 1, `${name}: exit 1`);
    t.match(r.err, why, name);
    t.same(readFileSync(file), bytes, `${name}: file unchanged`);
  }
});
