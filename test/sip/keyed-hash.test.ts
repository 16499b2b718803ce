import t from 'tap';
import { HashKey, keyedHash } from '../../src/sip/keyed-hash.js';

// HalfSipHash-1-3, 32-bit output, key 00 01 .. 07, input 00 01 .. (n-1) for n = 0..63: the reference
// implementation (github.com/veorq/SipHash halfsiphash.c built with -DcROUNDS=1 -DdROUNDS=3), each
// output as its 4 bytes little-endian in hex. (Built the same way with the default 2-4 rounds it
// reproduces that repository's vectors_hsip32.)
const VECTORS = ['96c81458', 'ca64e8e7', '300e4bbc', '39995301', 'a69e057e', '9bd8e388', '650b08a0', 'd6d9389d', 'b1997957', 'edca39c8', 'cf32fae4', 'ee469295', '6c09286b', 'd69cdd66', '7c8a6516', '047b25d0', '01d5318b', '4bd01c2b', '39237106', '67ca2a52', '05b61b91', '0e5fa690', '7bef26f8', 'eb2d5162', 'd70a1557', '0735475d', '4274c41e', 'd3af64ab', 'd000410a', '52e62c6d', 'a3b63123', '1a79d808', '8dda6dbc', '34c9f6e0', '332065b0', 'cc51989b', '7ffb467c', 'cba82b73', '7a9942f1', '1baac9fc', 'b27e3205', '1c1310e1', 'c0e7e5f9', 'a608d7a7', 'b15a7911', '19166765', '91ff5f9f', '67529cd8', 'eb837700', '43627695', '629263ab', '90137e9c', 'a6dd68c3', '55c4dd38', '79d313fa', 'e8a49e97', '7ed7ec53', '5706e82e', '6ab6db33', '77053fae', 'ccc4b488', '0b487f3e', 'f8ebc174', '04831787'];

t.test('HalfSipHash-1-3 matches the reference implementation', async (t) => {
  const key = new HashKey(0x03020100, 0x07060504);
  const input = Buffer.from(Array.from({ length: 64 }, (_, i) => i));
  const got = VECTORS.map((_, n) => {
    const out = Buffer.alloc(4);
    out.writeUInt32LE(keyedHash(key, input, 0, n));
    return out.toString('hex');
  });
  t.strictSame(got, VECTORS);
  // The same bytes anywhere in a buffer hash the same.
  const shifted = Buffer.concat([Buffer.from('xyz'), input]);
  for (const n of [0, 1, 7, 37, 61]) t.equal(keyedHash(key, shifted, 3, 3 + n), keyedHash(key, input, 0, n), `offset, length ${n}`);
});

t.test('the key is random per instance and changes every hash', async (t) => {
  const a = new HashKey();
  const b = new HashKey();
  t.not(`${a.k0}:${a.k1}`, `${b.k0}:${b.k1}`, 'two keys differ');
  const data = Buffer.from('OPTIONS\x00\x9c\x40203.0.113.5\x00z9hG4bK-524287-1---e3d8a1f5\x00192.168.1.20\x13\xc4', 'latin1');
  let same = 0;
  for (let i = 0; i < 256; i++) {
    const k = new HashKey();
    if ((keyedHash(k, data, 0, data.length) & 0xffff) === (keyedHash(a, data, 0, data.length) & 0xffff)) same++;
  }
  t.ok(same <= 3, `the bucket of one key under 256 random keys: the same as under a given key ${same} times`);
});
