/**
 * net/: address helpers shared by the registrar (guard, NAT detection), the console and trunks: IP
 * literal parsing and classification, CIDR lists, token buckets, bounded tables. Allocation-free on
 * the hot path; imports nothing of ours but config types.
 */
export * from './address.js';
export * from './cidr.js';
export * from './token-bucket.js';
export * from './bounded-table.js';
