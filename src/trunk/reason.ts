/**
 * `last_reason`: every failure in words an operator acts on. The kind
 * drives the policy (credential failures count toward the alert), the text is what the console and
 * `sipreg trunks` show.
 */
export type FailureKind =
  | 'credentials'     // challenged again after our credentials: wrong user or password
  | 'forbidden'       // 403: account refused (often also wrong credentials)
  | 'timeout'         // Timer F: no final answer
  | 'server_error'    // 5xx
  | 'expiry_refused'  // 423 loop or 423 without a usable Min-Expires
  | 'dns'             // registrar or proxy name not resolved
  | 'not_found'       // 404: unknown user or domain at the upstream
  | 'rejected'        // other 4xx
  | 'global'          // 6xx
  | 'challenge'       // a challenge we cannot answer (algorithm, qop)
  | 'no_grant'        // 200 OK without any time granted
  | 'local';          // nothing to send from (no socket of the family, no route)

export interface Failure {
  readonly kind: FailureKind;
  readonly status: number | null;
  readonly reason: string;
  readonly retryAfterS: number | null; // from a 503; honoured when longer than the retry delay
}

/** Failures that say the credentials are wrong; CREDENTIAL_ALERT_COUNT of them in a row raise an alert. */
export function isCredentialFailure(kind: FailureKind): boolean {
  return kind === 'credentials' || kind === 'forbidden';
}

function statusText(status: number, phrase: string): string {
  return phrase === '' ? String(status) : `${status} ${phrase}`;
}

/** A final non-2xx answer other than a challenge or a 423 the client handles itself. */
export function classifyStatus(status: number, phrase: string, retryAfterS: number | null): Failure {
  const st = statusText(status, phrase);
  if (status === 403) {
    return { kind: 'forbidden', status, reason: `forbidden: ${st} (account or credentials refused by the upstream)`, retryAfterS: null };
  }
  if (status === 404) return { kind: 'not_found', status, reason: `unknown user or domain: ${st} (check username and domain)`, retryAfterS: null };
  if (status >= 500 && status < 600) {
    const after = retryAfterS !== null && retryAfterS > 0 ? ` (Retry-After ${retryAfterS} s)` : '';
    return { kind: 'server_error', status, reason: `server error: ${st}${after}`, retryAfterS: status === 503 ? retryAfterS : null };
  }
  if (status >= 600) return { kind: 'global', status, reason: `refused by the upstream: ${st}`, retryAfterS: null };
  return { kind: 'rejected', status, reason: `rejected: ${st}`, retryAfterS: null };
}

export function credentialsFailure(status: number, phrase: string, user: string): Failure {
  return {
    kind: 'credentials', status,
    reason: `bad credentials: ${statusText(status, phrase)} again after our credentials for user "${user}" (check auth_user and password)`,
    retryAfterS: null,
  };
}

export function timeoutFailure(targetText: string, waitedS: number): Failure {
  return { kind: 'timeout', status: null, reason: `no answer: ${targetText} did not answer within ${waitedS} s`, retryAfterS: null };
}

export function expiryFailure(phrase: string, detail: string): Failure {
  return { kind: 'expiry_refused', status: 423, reason: `expiry refused: ${statusText(423, phrase)}, ${detail}`, retryAfterS: null };
}

export function challengeFailure(status: number, detail: string): Failure {
  return { kind: 'challenge', status, reason: `cannot answer the challenge: ${detail}`, retryAfterS: null };
}

export function dnsFailure(text: string): Failure {
  return { kind: 'dns', status: null, reason: text, retryAfterS: null };
}

export function localFailure(text: string): Failure {
  return { kind: 'local', status: null, reason: text, retryAfterS: null };
}

export function noGrantFailure(): Failure {
  return { kind: 'no_grant', status: 200, reason: 'registrar answered 200 OK but granted no time for our contact', retryAfterS: null };
}
