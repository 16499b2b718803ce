// The parser's failure codes: one table of {code: [status, reason]} from which the ParseFailure type, the
// list of codes and the answer to each are derived, so a code cannot exist without its answer.

/**
 * Every way parse can refuse a datagram, with the status and reason phrase that answer it. Only a request
 * whose top Via parsed is answered (`msg.canRespond()`); the rest are dropped.
 */
const failureTable = {
  ERR_SIP_TOO_LARGE: [513, 'Message Too Large'], // datagram above limits.messageSizeMax: dropped, never answered
  ERR_SIP_EMPTY: [400, 'Bad Request - Empty Message'], // only CRLFs or nothing: a keepalive (RFC 5626 §4.4.1), ignore silently
  ERR_SIP_NO_CRLF: [400, 'Bad Request - Malformed Line Ends'], // a line not ended by CRLF, or no empty line ending the headers (RFC 3261 §7)
  ERR_SIP_START_LINE: [400, 'Bad Request - Malformed Request Line'], // request or status line not in the form of RFC 3261 §7.1/§7.2
  ERR_SIP_VERSION: [505, 'Version Not Supported'], // SIP-Version other than SIP/2.0 (answer 505, RFC 3261 §8.2.1... §21.5.7)
  ERR_SIP_STATUS: [400, 'Bad Request - Malformed Status Line'], // status code not 3 digits in 100..699 (RFC 3261 §7.2)
  ERR_SIP_REQUEST_URI: [400, 'Bad Request - Malformed Request-URI'], // Request-URI unparseable (RFC 3261 §19.1, RFC 5118 §4.2)
  ERR_SIP_HEADERS_MAX: [400, 'Bad Request - Too Many Headers'], // more header lines than limits.headerCountMax
  ERR_SIP_HEADER_TOO_LONG: [400, 'Bad Request - Header Too Long'], // one header field (with folds) above limits.headerLengthMax
  ERR_SIP_BAD_HEADER: [400, 'Bad Request - Malformed Header Line'], // a header line without a token name and a colon (RFC 3261 §7.3.1)
  ERR_SIP_DUPLICATE_HEADER: [400, 'Bad Request - Repeated Single-Value Header'], // a single-valued header repeated (RFC 4475 §3.3.8)
  ERR_SIP_CONTENT_LENGTH: [400, 'Bad Request - Bad Content-Length'], // not digits, conflicting, or larger than the body (RFC 3261 §18.3)
  ERR_SIP_MISSING_HEADER: [400, 'Bad Request - Missing Mandatory Header'], // no Via, From, To, Call-ID or CSeq (RFC 3261 §8.1.1)
  ERR_SIP_VIA: [400, 'Bad Request - Malformed Via'], // top Via unparseable (RFC 3261 §20.42)
  ERR_SIP_FROM: [400, 'Bad Request - Malformed From'],
  ERR_SIP_TO: [400, 'Bad Request - Malformed To'],
  ERR_SIP_CALL_ID: [400, 'Bad Request - Malformed Call-ID'],
  ERR_SIP_CSEQ: [400, 'Bad Request - Bad CSeq'], // not a 32-bit number and a method, or method differs from the request's (RFC 3261 §8.2.2... §20.16)
  ERR_SIP_MAX_FORWARDS: [400, 'Bad Request - Bad Max-Forwards'], // not a number in 0..255 (RFC 3261 §20.22)
  ERR_SIP_CONTACT: [400, 'Bad Request - Malformed Contact'], // a Contact value unparseable, or `*` mixed with others (RFC 3261 §10.2.2, §20.10)
  ERR_SIP_CONTACTS_MAX: [400, 'Bad Request - Too Many Contacts'], // more Contact values than limits.contactsPerRequestMax
  ERR_SIP_EXPIRES: [400, 'Bad Request - Bad Expires'], // Expires or Min-Expires not delta-seconds (RFC 3261 §20.19, §20.23)
} as const satisfies Record<`ERR_SIP_${string}`, readonly [number, string]>;

/** Every way parse can refuse a datagram: a key of the table above. */
export type ParseFailure = keyof typeof failureTable;

/** Every ParseFailure in the table's order, for tests and counters keyed by code. */
export const parseFailures: readonly ParseFailure[] = Object.keys(failureTable) as ParseFailure[];

interface FailureResponse { readonly status: number; readonly reason: string }

// Made once at load, so answering a failure allocates nothing.
const failureResponses = {} as Record<ParseFailure, FailureResponse>;
for (const code of parseFailures) {
  const [status, reason] = failureTable[code];
  failureResponses[code] = { status, reason };
}

/** Status code and reason phrase to answer a failed request with, naming the problem. */
export function failureResponse(code: ParseFailure): FailureResponse {
  return failureResponses[code];
}
