#!/usr/bin/env node
// Gives a 32-bit ARM zImage's EFI image room for its decompressor's heap (run by image/build-image.sh for
// ARCH=arm on the kernel it puts on the ESP and in the firmware bundle).
//
// Why: the zImage's PE header says SizeOfImage = the end of its .stack, but its decompressor keeps its heap
// (64 KiB, the XZ decoder's state) above that stack. The EFI stub moves the zImage into pages of exactly
// SizeOfImage and installs its LINUX_EFI_MEMRESERVE table in a pool page the firmware hands out next; when
// that page lies right above the zImage, the decompressor overwrites the table with its XZ probabilities
// (16-bit words around 0x0400), and the kernel, reading the table in efi_config_parse_tables() before its
// exception vectors are mapped, faults on the garbage count and loops in the prefetch-abort vector
// (pc 0xffff000c) without a word on the console. Which page the table lands in moves with the sizes of the
// boot's earlier allocations: Debian 12's armmp kernels (6.1.0-50 and -57) under AAVMF32 + systemd-boot
// hung with a command line over ~196 characters at 256 MiB, and with the image's plain one at 1 GiB unless
// `earlycon` shifted the layout. With SizeOfImage covering the heap the firmware's allocation covers it
// too, and every one of those boots got through (image/README.md, "Per architecture").
//
// SizeOfImage becomes the end of the last section + the heap, rounded up to the section alignment: the
// same result however often it runs. The loader zero-fills the tail; the file's bytes are unchanged but
// for those four.
//
//   node image/zimage-room.mjs ZIMAGE
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The decompressor's heap above its stack (arch/arm/boot/compressed/head.S: "malloc space ... 64k max"). */
export const DECOMPRESSOR_HEAP_BYTES = 0x10000;
const IMAGE_FILE_MACHINE_ARMNT = 0x01c4;
const IMAGE_FILE_MACHINE_THUMB = 0x01c2;
const PE32_MAGIC = 0x010b;

/** The zImage's PE header fields, or an Error saying why it is not an ARM EFI zImage. */
function peHeader(image) {
  if (image.length < 0x40 || image.readUInt16LE(0) !== 0x5a4d) return new Error('no MZ header (not an EFI zImage)');
  const pe = image.readUInt32LE(0x3c);
  if (pe + 24 > image.length || image.readUInt32LE(pe) !== 0x00004550) return new Error('no PE header (not an EFI zImage)');
  const machine = image.readUInt16LE(pe + 4);
  if (machine !== IMAGE_FILE_MACHINE_THUMB && machine !== IMAGE_FILE_MACHINE_ARMNT) {
    return new Error(`PE machine 0x${machine.toString(16)} is not 32-bit ARM`);
  }
  const sections = image.readUInt16LE(pe + 6);
  const optional = pe + 24;
  const optionalSize = image.readUInt16LE(pe + 20);
  if (optional + optionalSize + 40 * sections > image.length || image.readUInt16LE(optional) !== PE32_MAGIC) {
    return new Error('PE optional header is not PE32');
  }
  const alignment = image.readUInt32LE(optional + 32);
  if (alignment === 0 || (alignment & (alignment - 1)) !== 0) return new Error(`section alignment ${alignment} is not a power of two`);
  let end = 0;
  for (let i = 0, at = optional + optionalSize; i < sections; i++, at += 40) {
    end = Math.max(end, image.readUInt32LE(at + 12) + image.readUInt32LE(at + 8)); // VirtualAddress + VirtualSize
  }
  return { sizeOfImageAt: optional + 56, sizeOfImage: image.readUInt32LE(optional + 56), alignment, end };
}

/** SizeOfImage with room for the heap: [old, new], the image patched in place. */
export function makeRoom(image) {
  const h = peHeader(image);
  if (h instanceof Error) throw h;
  const wanted = Math.ceil((h.end + DECOMPRESSOR_HEAP_BYTES) / h.alignment) * h.alignment;
  const size = Math.max(h.sizeOfImage, wanted);
  image.writeUInt32LE(size, h.sizeOfImageAt);
  return [h.sizeOfImage, size];
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [file] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: zimage-room.mjs ZIMAGE\n');
    process.exit(2);
  }
  try {
    const image = readFileSync(file);
    const [before, after] = makeRoom(image);
    writeFileSync(file, image);
    process.stdout.write(`${file}: SizeOfImage 0x${before.toString(16)} -> 0x${after.toString(16)} (decompressor heap 64 KiB)\n`);
  } catch (err) {
    process.stderr.write(`zimage-room: ${file}: ${err.message}\n`);
    process.exit(1);
  }
}
