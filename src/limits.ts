// Every bound of sipreg in one place, each with the reason for its value [TigerBeetle constants.zig].
// Names end with their unit (`...Max` counts or bytes as stated, `...Ms`, `...S`). Relations between
// bounds are asserted at load, so a bad edit fails at start-up rather than under load.
import assert from 'node:assert';

export const limits = {
  // --- Wire (src/sip) ---
  // bytes; RFC 3261 §18.1.1 moves requests over 1300 B to TCP, so a UDP SIP datagram is small:
  // 8 KiB is generous headroom (RFC 4475's longreq is 3.5 KB). Larger datagrams are dropped and counted.
  messageSizeMax: 8192,
  // A REGISTER carries about a dozen header lines; RFC 4475's longreq has 47. Past this: 'ERR_SIP_HEADERS_MAX'.
  headerCountMax: 64,
  // bytes of one header field including its folded continuation lines; past this 'ERR_SIP_HEADER_TOO_LONG'.
  // A digest Authorization with SHA-256 and long nonces is about 400 B.
  headerLengthMax: 2048,
  // Contact values in one request (all Contact lines, comma-separated ones counted singly). Bounds what
  // one REGISTER can ask of the store; past this 'ERR_SIP_CONTACTS_MAX'.
  contactsPerRequestMax: 16,
  // bytes of a response we write. A 200 OK listing bindingsPerAor contacts of ~200 B plus the copied
  // Via/From/To fits; the writer returns 'ERR_SIP_WRITE_OVERFLOW' rather than exceed it.
  responseSizeMax: 4096,
  // bytes asked for each SIP socket's kernel receive buffer (SO_RCVBUF). Datagrams arriving while the
  // event loop is busy (a burst, a GC pause, sending a commit batch's answers) wait here; when it is full
  // the kernel drops them and phones retransmit only after 500 ms. Under SIPp at 8,000 registrations/s,
  // Linux's default (208 KiB, ~400 REGISTERs) let the service's socket drop 25,000-113,000 datagrams in
  // 8 s; with 4 MiB none, as long as the service kept up on average (saturated, no buffer helps). The
  // kernel caps it at net.core.rmem_max: the appliance image raises that
  // (image/rootfs/etc/sysctl.d/60-sipreg.conf) and the service warns at start when it got less.
  socketReceiveBufferSize: 4 * 1024 * 1024,
  // Responses in flight on the sockets (dgram may queue a send and holds the buffer until its callback).
  // None free: the response is dropped and counted (dropsNoSlot), the client retransmits (RFC 3261 §17.1.2).
  responseSlotCount: 256,
  // Completed non-INVITE server transactions kept to answer retransmissions (RFC 3261 §17.2.2). Each
  // keeps its final response in a slot of transactionResponseSlotSize (24 MiB off-heap in all, plus
  // 8 MiB of keys; pages are touched only when used). At an appliance's normal rate (hundreds of phones)
  // it covers the whole of Timer J; at 6,000 authenticated registrations/s (12,000 transactions/s) it
  // still covers 2.7 s, past a phone's second retransmission (T1 = 500 ms, then 1 s): a late copy of a
  // REGISTER is answered from here instead of being processed again (its nonce-count would be a replay).
  transactionCacheMax: 32_768,
  // bytes of a cached response kept in the transaction's own slot: a 401 or a 200 with a contact or two
  // (~400-700 B). Larger answers (a 200 listing many bindings) take one of the large slots below.
  transactionResponseSlotSize: 768,
  // responseSizeMax slots for larger cached answers (2 MiB). None free: that answer is not cached and
  // a retransmission of its request is processed again.
  transactionLargeResponseCount: 512,
  // bytes of a transaction key (branch + sent-by + source + method); longer keys are not cached.
  transactionKeySizeMax: 256,
  // ms; Timer J = 64*T1 for unreliable transports (RFC 3261 §17.2.2, Table 4).
  transactionTimerJMs: 32_000,
  // Entries one bucket of the transaction index may chain: what one lookup walks at most. The index has
  // two buckets per entry and a secret random hash key per start, so with 32,768 entries a chain holds
  // half an entry on average and reaching 17 has odds near 1e-20 per bucket: the bound costs ordinary
  // traffic nothing. It holds whatever the keys (an unkeyed FNV-1a index let crafted Via branches chain
  // all 32,768 entries into one bucket: ~7x the service's CPU per datagram, and a sweep of them held the
  // event loop for hundreds of ms to seconds); a full bucket gives up its oldest entry.
  transactionProbeMax: 16,
  // Cache slots the periodic transaction sweep looks at per pass, and how often it runs: a full round
  // of 32,768 slots every 8 s, well inside Timer J (entries found expired on lookup go anyway). A pass
  // removes at most this many entries, each unlinked within one chain of transactionProbeMax.
  transactionSweepSliceMax: 4096,
  transactionSweepIntervalMs: 1_000,
  // UDP sockets one transport binds (sip.listen entries).
  listenAddressCountMax: 16,
  // bytes; a digest response value is 32 (MD5) or 64 (SHA-256/SHA-512-256) hex digits.
  // bytes of a digest hash input assembled by the registrar (method:uri, HA1:nonce:nc:cnonce:qop:HA2);
  // a header longer than this cannot pass, so the credentials simply fail.
  digestInputSizeMax: 2048,
  digestResponseSizeMax: 128,
} as const;

// We send only what we would accept ourselves.
assert(limits.responseSizeMax <= limits.messageSizeMax);
// A single header can never be longer than a datagram, and a datagram has room for the header table.
assert(limits.headerLengthMax <= limits.messageSizeMax);
assert(limits.headerCountMax >= 16); // a REGISTER's mandatory and usual headers must fit
// Each Contact needs at least one header line or a comma, both bounded by the datagram.
assert(limits.contactsPerRequestMax >= 1);
assert(limits.contactsPerRequestMax <= limits.headerCountMax * 8);
assert(limits.responseSlotCount >= 1);
assert(limits.transactionCacheMax >= limits.responseSlotCount); // every in-flight answer can be cached
assert(limits.transactionCacheMax <= 65_536); // handles pack an index in 16 bits
assert(limits.transactionResponseSlotSize >= 512 && limits.transactionResponseSlotSize <= limits.responseSizeMax);
assert(limits.transactionKeySizeMax >= 64);
assert(limits.transactionTimerJMs === 64 * 500); // 64*T1, T1 = 500 ms
assert(limits.transactionProbeMax >= 1 && limits.transactionProbeMax <= 255); // counted in a byte
assert(limits.transactionSweepSliceMax >= 1);
// The sweep goes round the whole cache within Timer J.
assert(Math.ceil(limits.transactionCacheMax / limits.transactionSweepSliceMax) * limits.transactionSweepIntervalMs <= limits.transactionTimerJMs);
assert(limits.listenAddressCountMax >= 1);
