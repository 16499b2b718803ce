/**
 * Random identifiers for keepalive OPTIONS (branch, tag, Call-ID) drawn from a pooled buffer. One
 * `crypto.randomBytes` per identifier costs a trip into the CSPRNG each time; profiled at 20,000 pings
 * it was the largest cost of a ping, so the pool is refilled 4 KiB at a time instead. The values are as
 * random as randomBytes' (the same CSPRNG), only fetched in bulk.
 */
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let offset = POOL_SIZE;

/** `bytes` random bytes as lower-case hex. */
export function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const text = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return text;
}

/** RFC 3261 §8.1.1.7: the magic cookie and 96 random bits. */
export function keepaliveBranch(): string {
  return `z9hG4bK${randomHex(12)}`;
}

/** RFC 3261 §19.3: at least 32 random bits. */
export function keepaliveTag(): string {
  return randomHex(8);
}

/** RFC 3261 §8.1.1.4: globally unique. */
export function keepaliveCallId(host: string): string {
  return `${randomHex(16)}@${host}`;
}
