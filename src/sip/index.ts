/**
 * sip/ — bytes ↔ SIP messages over UDP. Imports nothing of ours but `limits.ts`; knows nothing of
 * registrars or trunks.
 *
 * Parsing (parse.ts and the steps it runs, message.ts), allocation-free, offsets into the datagram, strings
 * on demand; the failure codes and their answers in parse-failures.ts:
 *   const msg = new SipMessage();                      // one per handler, reused
 *   const failure = parse(msg, buf);                   // ParseFailure | null; never throws on content
 *   if (failure !== null) { if (msg.canRespond()) answer failureResponse(failure) ... }
 *   msg.isRequest, msg.method (Method.*), msg.methodText(), msg.statusCode, msg.reason()
 *   msg.requestUri: UriView  { scheme, user(), password(), host(), port, params(), param(n), headers(), raw() }
 *   msg.via: ViaView         { transport(), host(), port, branch(), isRfc3261Branch, hasRport, rport,
 *                              hasReceived, received(), hostIs(addr), raw() }   (the top Via)
 *   msg.from, msg.to: NameAddrView { uri, displayName(), tag(), hasTag, params(), param(n), raw() }
 *   msg.contactCount, msg.contactStar, msg.contact(i): NameAddrView { star, uri, expires, q (x1000),
 *                              instance(), hasInstance, regId, displayName(), raw() }
 *   msg.callId(), msg.cseq, msg.cseqMethod, msg.cseqMethodText(), msg.maxForwards, msg.expires,
 *   msg.minExpires, msg.retryAfterS, msg.contentLength, msg.body(), msg.userAgent(), msg.server(), msg.date()
 *   msg.hasOption(Hdr.Require, 'path'), msg.options(Hdr.Require), msg.nextHeader(type, after), msg.value(i)
 *   Numbers that are absent read as -1.
 *
 * Writing (write.ts):
 *   const w = new ResponseWriter();                    // one, reused
 *   const n = w.begin(slot.buf, msg, 200, 'OK', rinfo) // status line, Vias (+received/rport), From,
 *     .contact('<sip:1001@203.0.113.5:5060>', 3600)   //   To (+stable tag), Call-ID, CSeq
 *     .headerNum('Min-Expires', 60).header('Date', d).raw(preencodedLines)
 *     .finish();                                       // number | 'ERR_SIP_WRITE_OVERFLOW'
 *   responseTarget(msg, rinfo, out)                    // RFC 3261 §18.2.2 / RFC 3581 destination
 *   writeRequest(buf, spec) / newBranch() / newTag() / newCallId(host)   // outbound REGISTER, OPTIONS
 *
 * Digest (digest.ts): parseDigest/parseDigestHeader into DigestParams, computeHa1/Ha2/Response,
 *   verifyDigest(params, method, ha1) (constant time), formatChallenge, challengeFrom, buildAuthorization.
 *
 * Listen addresses (listen.ts): parseListenAddress(text, portMin) → ListenAddress | 'form' | 'port'.
 *
 * Transport (transport.ts): new SipTransport(addresses); onDatagram(handler); await start();
 *   acquire() → ResponseSlot | null; send(slot, length, port, address, socketIndex); counters; close().
 *
 * Transactions (transactions.ts): new ServerTransactions(); receive(msg, rinfo, nowMs) →
 *   'new' (handle) | 'in-progress' | 'completed' (copyResponse) | 'uncacheable'; complete(handle, buf,
 *   length, nowMs); abandon(handle); sweep(nowMs).
 *
 * A typical handler (module level, registered once):
 *   function onDatagram(buf, rinfo, socketIndex) {
 *     const failure = parse(msg, buf);
 *     if (failure !== null) { counters.parseFailures++; if (!msg.canRespond()) return; ... 400 ... }
 *     switch (transactions.receive(msg, rinfo, Date.now())) { case 'in-progress': return; ... }
 *     const slot = transport.acquire(); if (slot === null) return;
 *     const n = writer.begin(slot.buf, msg, 401, 'Unauthorized', rinfo).header('WWW-Authenticate', c).finish();
 *     transport.send(slot, n, rinfo.port, rinfo.address, socketIndex);
 *   }
 */
export {
  SipMessage, UriView, NameAddrView, ViaView, Method, methodNames, Hdr, HEADER_TYPE_COUNT, headerNames, Scheme,
} from './message.js';
export type { MethodId, HeaderType, SchemeId } from './message.js';
export { parse } from './parse.js';
export { parseFailures, failureResponse } from './parse-failures.js';
export type { ParseFailure } from './parse-failures.js';
export { ResponseWriter, responseTarget, writeRequest, newBranch, newTag, newCallId } from './write.js';
export type { WriteFailure, RemoteAddress, ResponseTarget, RequestSpec } from './write.js';
export {
  DigestParams, DigestAlgorithm, DigestParam, parseDigest, parseDigestHeader, computeHa1, computeHa2, sessionHa1,
  computeResponse, verifyDigest, formatChallenge, challengeFrom, buildAuthorization, algorithmName, isSessAlgorithm,
} from './digest.js';
export type { DigestAlgorithmId, DigestFailure, DigestChallenge, DigestCredentials } from './digest.js';
export { SipTransport, TransportError } from './transport.js';
export type { DatagramHandler, ResponseSlot, TransportCounters } from './transport.js';
export { parseListenAddress } from './listen.js';
export type { ListenAddress, ListenRefusal } from './listen.js';
export type { LocalSocket, SipEndpoint } from './endpoint.js';
export { ServerTransactions } from './transactions.js';
export type { TransactionState, TransactionCounters } from './transactions.js';
