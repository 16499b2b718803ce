/**
 * Service-wide counters: plain numbers bumped on the hot path (no allocation), read by the per-minute
 * sampler, the Prometheus textfile and the console. Monotonic since start unless named `...Now`.
 */
export const counters = {
  // sip/ transport (counted there: the service hands this object to SipTransport) and parser
  datagramsReceived: 0,         // every datagram read, oversize ones included
  datagramsOversize: 0,         // dropped unread: over limits.messageSizeMax
  parseFailures: 0,             // malformed (CRLF keepalives are not failures)
  badRequestsAnswered: 0,      // 400 sent for malformed input with a usable Via
  requestsDropped: 0,          // any method refused by the ACL, its source's budget, a suspended address or the global cap
  retransmissionsAbsorbed: 0,
  responsesSent: 0,
  sendErrors: 0,                // sends the kernel refused
  sendDropsNoSlot: 0,           // responses dropped for want of a free response slot
  // registrar/
  registersReceived: 0,
  registersAccepted: 0,         // 200 OK
  challengesSent: 0,            // 401
  authFailures: 0,              // wrong digest response
  registersRejected: 0,         // any other final non-2xx
  registersDropped: 0,          // rate limited, denied or suspended and dropped silently
  overloadAnswered: 0,          // 503
  processingUsTotal: 0,         // REGISTER receive -> response sent, summed
  processed: 0,
  bindingsCreated: 0,
  bindingsRemoved: 0,
  bindingsExpired: 0,
  storeWriteFailures: 0,
  // registrar/keepalive
  keepalivesSent: 0,
  keepalivesAnswered: 0,
  // trunk/
  trunkRegistersSent: 0,
  trunkFailures: 0,
};

export type Counters = typeof counters;
