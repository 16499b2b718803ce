/**
 * One trunk's outbound registration state machine:
 *
 *   start ─► registering ─► registered ─(refresh timer)─► registered ...
 *                 │  ▲            │ refresh fails
 *                 ▼  │ retry      ▼
 *              failed ─► retry_wait (exactly SS_SIP_USER_AGENT_RETRY_DELAY, or a longer 503 Retry-After)
 *   stop/remove ─► unregistered (REGISTER Expires: 0 first when SS_SIP_USER_AGENT_SEND_UNREGISTER is On)
 *   enabled: false ─► disabled
 *
 * Within one attempt the client answers 401/407 challenges, follows a 423's Min-Expires, and fixes its
 * Contact once when the 200 OK's Via shows a NAT; each of those is a new transaction with the same
 * Call-ID and the next CSeq (RFC 3261 §10.2.4, §8.1.3.5). Every transition is written to `store.trunks`
 * through `persist`, and the ones an operator cares about become events.
 */
import { assert } from '../assert.js';
import { randomBytes } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Config, Trunk, Params } from '../config/types.js';
import type { EventType, TrunkStateName, TrunkStateRecord } from '../store/index.js';
import type { SipEndpoint } from '../sip/endpoint.js';
import { counters } from '../stats/counters.js';
import type { TrunkClock, TimerHandle } from './clock.js';
import { ClientTransaction } from './transaction.js';
import type { TrunkResponse } from './response.js';
import { stripBrackets } from './response.js';
import { writeRegister, type RegisterContact } from './register.js';
import { answerChallenge, pickChallenge, type DigestState } from './auth.js';
import { hostPort, isWildcard, socketFor, type Resolver, type Target } from './resolve.js';
import {
  askedExpiresS, refreshDelayMs, retryDelayMs, CREDENTIAL_ALERT_COUNT, GRANTED_EXPIRES_MAX_S, INTERVAL_TOO_BRIEF_MAX, NAT_PINHOLE_SAFE_S,
  STALE_NONCE_MAX, TIMER_F_MS, UNREGISTER_WAIT_MS,
} from './timing.js';
import {
  classifyStatus, credentialsFailure, dnsFailure, expiryFailure, isCredentialFailure, localFailure, noGrantFailure,
  timeoutFailure, challengeFailure, type Failure,
} from './reason.js';

/** What an agent needs from the service around it; tests pass fakes. */
export interface AgentEnv {
  readonly endpoint: SipEndpoint;
  readonly clock: TrunkClock;
  readonly resolver: Resolver;
  /** The source address the OS picks toward a target (for wildcard listen sockets). */
  readonly routeSource: (target: Target) => Promise<string>;
  readonly log: Logger;
  readonly config: () => Config;
  readonly persist: (record: TrunkStateRecord) => void;
  readonly event: (type: EventType, trunk: string, source: string, detail: string) => void;
}

/** Where this trunk's requests go and what our Contact says; fixed for one attempt. */
interface Route {
  readonly target: Target;          // where datagrams go: the proxy, else the registrar
  readonly registrarText: string;   // "host:port" shown to operators
  readonly socketIndex: number;
  readonly localAddress: string;    // our address toward the target (Via sent-by, Contact when no NAT)
  readonly localPort: number;
}

/** The REGISTER being negotiated in this attempt; resent with a new CSeq after a challenge or a 423. */
interface Attempt {
  readonly generation: number;
  readonly unregister: boolean;
  contacts: RegisterContact[];
  expiresS: number;
  freshWww: boolean;                // credentials answering a challenge of this attempt were sent
  freshProxy: boolean;
  staleCount: number;
  briefCount: number;
  natFixCount: number;
  deadlineAtMs: number | null;      // un-REGISTER: the whole exchange ends by then
  done: ((ok: boolean) => void) | null;
}

function token(bytes: number): string {
  return randomBytes(bytes).toString('hex');
}

function sameHost(a: string, b: string): boolean {
  return stripBrackets(a).toLowerCase() === stripBrackets(b).toLowerCase();
}

function uriHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export class TrunkAgent {
  readonly callId: string;
  private readonly fromTag: string;
  private cseq: number;
  private state: TrunkStateName = 'registering';
  private lastStatus: number | null = null;
  private lastReason = '';
  private grantedExpiresS: number | null = null;
  private lastSuccessAtMs: number | null = null;
  private failureCount = 0;
  private credentialFailureCount = 0;
  /** Since when the trunk is not registered while it should be (null: registered, or off on purpose). */
  private downSinceMs: number | null = null;
  private nextActionAtMs: number | null = null;
  private registrarText = '';
  private contactUri = '';
  /** Min-Expires a 423 taught us (RFC 3261 §10.2.8); asked expiries never go below it again. */
  private minExpiresS = 0;
  /** Our address as the upstream sees it, when a NAT rewrote it (Via received/rport of a 200). */
  private publicAddress: { host: string; port: number } | null = null;
  /** Until when the upstream holds our binding (for SEND_UNREGISTER at stop). */
  private registeredUntilMs = 0;
  private warnedPinhole = '';
  private route: Route | null = null;
  private www: DigestState | null = null;
  private proxyAuth: DigestState | null = null;
  private timer: TimerHandle | null = null;
  private keepaliveTimer: TimerHandle | null = null;
  private tx: ClientTransaction | null = null;
  private attempt: Attempt | null = null;
  private generation = 0;
  private halted = false;

  constructor(private trunk: Trunk, private readonly env: AgentEnv) {
    this.callId = `${token(12)}@sipreg`;
    this.fromTag = token(6);
    // RFC 3261 §8.1.1.5: the initial CSeq is arbitrary below 2**31; a small random start makes a
    // restarted process's REGISTERs distinguishable in traces.
    this.cseq = 1 + Math.floor(Math.random() * 1000);
  }

  get name(): string { return this.trunk.name; }
  get config(): Trunk { return this.trunk; }
  get currentState(): TrunkStateName { return this.state; }

  /** The record as it would be persisted now. */
  record(): TrunkStateRecord {
    return {
      name: this.trunk.name,
      state: this.state,
      lastStatus: this.lastStatus,
      lastReason: this.lastReason,
      grantedExpiresS: this.grantedExpiresS,
      lastSuccessAtMs: this.lastSuccessAtMs,
      failureCount: this.failureCount,
      nextActionAtMs: this.nextActionAtMs,
      registrar: this.registrarText,
      contact: this.contactUri,
      updatedAtMs: this.env.clock.nowMs(),
      credentialFailures: this.credentialFailureCount,
      downSinceMs: this.downSinceMs,
    };
  }

  private params(): Params { return this.env.config().params; }

  /** The register period of this trunk: its own `expire`, else SS_SIP_USER_AGENT_EXPIRE. null = Auto. */
  fixedExpiresS(): number | null {
    const e = this.trunk.expiresS ?? this.params().uaExpiresS;
    return e === 'auto' ? null : e;
  }

  private transition(state: TrunkStateName): void {
    this.state = state;
    this.env.persist(this.record());
  }

  /** First registration after `delayMs` (the start-up spread). */
  start(delayMs: number): void {
    assert(!this.halted, '!this.halted');
    this.state = 'registering';
    this.downSinceMs ??= this.env.clock.nowMs();
    this.nextActionAtMs = this.env.clock.nowMs() + delayMs;
    this.env.persist(this.record());
    this.arm(delayMs, () => { void this.register(); });
  }

  /** A trunk configured with enabled: false: nothing is sent. */
  disable(): void {
    this.halt();
    this.nextActionAtMs = null;
    this.downSinceMs = null;
    // Nothing is resolved for a trunk that is off: show where it would register, as configured.
    if (this.registrarText === '') this.registrarText = configuredRegistrar(this.trunk);
    this.transition('disabled');
  }

  /** Replaces the trunk's settings (same identity: registrar, user, domain, proxy). */
  update(trunk: Trunk): void {
    assert(trunk.name === this.trunk.name, 'trunk.name === this.trunk.name');
    // A challenge answered under the old settings is not reused (allow_md5_without_qop may now forbid it).
    const credentialsChanged = trunk.authUser !== this.trunk.authUser || trunk.password !== this.trunk.password ||
      trunk.allowMd5WithoutQop !== this.trunk.allowMd5WithoutQop;
    this.trunk = trunk;
    if (credentialsChanged) {
      this.www = null;
      this.proxyAuth = null;
      this.credentialFailureCount = 0;
    }
  }

  /** Register now, whatever the state (operator command, changed settings). */
  registerNow(): void {
    if (this.halted) return;
    void this.register();
  }

  private arm(delayMs: number, fn: () => void): void {
    if (this.timer !== null) this.env.clock.clearTimer(this.timer);
    this.timer = this.env.clock.setTimer(() => { this.timer = null; fn(); }, delayMs);
  }

  private cancelWork(): void {
    this.generation++;
    if (this.timer !== null) this.env.clock.clearTimer(this.timer);
    this.timer = null;
    if (this.tx !== null) this.tx.cancel();
    this.tx = null;
    const pending = this.attempt;
    this.attempt = null;
    if (pending?.done != null) pending.done(false);
  }

  /** Stops every timer and transaction; no network traffic. */
  halt(): void {
    this.cancelWork();
    this.stopKeepalive();
    this.halted = true;
  }

  // ---- routing ----------------------------------------------------------------------------------

  private async resolveRoute(): Promise<Route | Failure> {
    const sockets = this.env.endpoint.sockets;
    const families = [...new Set(sockets.map((s) => s.family))];
    if (families.length === 0) return localFailure('no listen socket to send from');
    const via = this.trunk.proxy ?? { host: this.trunk.registrar, port: this.trunk.port };
    const resolved = await this.env.resolver.resolve(via.host, via.port, families);
    if (resolved.target === null) return dnsFailure(resolved.error);
    const target = resolved.target;
    const socket = socketFor(sockets, target.family);
    if (socket === null) return localFailure(`no IPv${target.family} listen socket for ${hostPort(target.address, target.port)}`);
    let localAddress = socket.address;
    if (isWildcard(localAddress)) {
      try {
        localAddress = await this.env.routeSource(target);
      } catch (err) {
        return localFailure(`no route to ${hostPort(target.address, target.port)} (${String((err as { code?: string }).code ?? err)})`);
      }
    }
    let registrarText: string;
    if (this.trunk.proxy === null) {
      registrarText = hostPort(target.address, target.port);
    } else {
      registrarText = `${this.trunk.registrar}${this.trunk.port === null ? '' : `:${this.trunk.port}`} via proxy ${hostPort(target.address, target.port)}`;
    }
    return { target, registrarText, socketIndex: socket.index, localAddress, localPort: socket.port };
  }

  private contactFor(route: Route): string {
    const host = this.publicAddress?.host ?? uriHost(route.localAddress);
    const port = this.publicAddress?.port ?? route.localPort;
    return `sip:${this.trunk.username}@${host}:${port}`;
  }

  // ---- registration -----------------------------------------------------------------------------

  private async register(): Promise<void> {
    if (this.halted) return;
    this.cancelWork();
    const generation = this.generation;
    const refreshing = this.state === 'registered';
    if (!refreshing) {
      this.nextActionAtMs = null;
      this.transition('registering');
    }
    const route = await this.resolveRoute();
    if (generation !== this.generation || this.halted) return;
    if ('kind' in route) {
      this.fail(route);
      return;
    }
    if (this.route !== null && (this.route.localAddress !== route.localAddress || this.route.localPort !== route.localPort)) {
      this.publicAddress = null; // a new local address: what the NAT showed before no longer applies
    }
    this.route = route;
    this.registrarText = route.registrarText;
    this.contactUri = this.contactFor(route);
    this.attempt = {
      generation, unregister: false, contacts: [{ uri: this.contactUri, expiresS: null }],
      expiresS: askedExpiresS(this.fixedExpiresS(), this.params().uaDefaultExpiresS, this.minExpiresS),
      freshWww: false, freshProxy: false, staleCount: 0, briefCount: 0, natFixCount: 0, deadlineAtMs: null, done: null,
    };
    this.send(this.attempt);
  }

  /** Sends the attempt's REGISTER as a new transaction (new branch, next CSeq). */
  private send(attempt: Attempt): void {
    const route = this.route;
    assert(route !== null, 'route !== null');
    assert(this.attempt === attempt, 'this.attempt === attempt');
    const p = this.params();
    const requestUri = `sip:${uriHost(this.trunk.registrar)}${this.trunk.port === null ? '' : `:${this.trunk.port}`}`;
    const branch = `z9hG4bK${token(10)}`;
    this.cseq++;
    const digestUser = this.trunk.authUser === '' ? this.trunk.username : this.trunk.authUser;
    const authorization = this.www === null ? null : answerChallenge(this.www, 'REGISTER', requestUri, digestUser, this.trunk.password);
    const proxyAuthorization = this.proxyAuth === null ? null : answerChallenge(this.proxyAuth, 'REGISTER', requestUri, digestUser, this.trunk.password);
    const data = writeRegister({
      requestUri,
      viaHost: uriHost(route.localAddress),
      viaPort: route.localPort,
      branch,
      fromUri: `sip:${this.trunk.username}@${uriHost(this.trunk.domain)}`,
      fromTag: this.fromTag,
      callId: this.callId,
      cseq: this.cseq,
      contacts: attempt.contacts,
      expiresS: attempt.expiresS,
      privacy: p.uaPrivacy === 'ignore' ? null : p.uaPrivacy,
      userAgent: this.env.config().sip.userAgent,
      authorization,
      proxyAuthorization,
    });
    if (typeof data === 'string') {
      // Only absurd settings (a password or user name of kilobytes) get here.
      const text = `the REGISTER does not fit a datagram (${data}): shorten username, domain or password`;
      if (attempt.unregister) return this.finishUnregister(attempt, false, text);
      return this.fail(localFailure(text));
    }
    let deadlineMs = TIMER_F_MS;
    if (attempt.deadlineAtMs !== null) deadlineMs = Math.max(0, attempt.deadlineAtMs - this.env.clock.nowMs());
    const tx = new ClientTransaction(this.env.endpoint, this.env.clock, {
      socketIndex: route.socketIndex, address: route.target.address, port: route.target.port, data, branch,
      callId: this.callId, cseq: this.cseq, deadlineMs,
    }, (response) => {
      if (this.tx === tx) this.tx = null;
      if (this.attempt !== attempt || attempt.generation !== this.generation) return;
      this.onFinal(attempt, response);
    });
    this.tx = tx;
    if (this.env.log.isLevelEnabled('debug')) {
      this.env.log.debug({ trunk: this.trunk.name, cseq: this.cseq, to: hostPort(route.target.address, route.target.port), expires: attempt.expiresS, unregister: attempt.unregister }, 'trunk REGISTER sent');
    }
    tx.start();
  }

  private onFinal(attempt: Attempt, response: TrunkResponse | null): void {
    const route = this.route;
    assert(route !== null, 'route !== null');
    if (response === null) {
      if (attempt.unregister) return this.finishUnregister(attempt, false, 'no answer to the un-REGISTER');
      const waitedS = Math.round((attempt.deadlineAtMs === null ? TIMER_F_MS : UNREGISTER_WAIT_MS) / 1000);
      return this.fail(timeoutFailure(route.registrarText, waitedS));
    }
    this.lastStatus = response.status;
    const status = response.status;
    if (status === 401 || status === 407) return this.onChallenge(attempt, response);
    if (attempt.unregister) return this.finishUnregister(attempt, status >= 200 && status < 300, `${status} ${response.phrase}`);
    if (status >= 200 && status < 300) return this.onAccepted(attempt, response, route);
    if (status === 423) {
      const asked = attempt.expiresS;
      const min = response.minExpiresS;
      if (min === null) return this.fail(expiryFailure(response.phrase, 'without Min-Expires'));
      if (min <= asked || attempt.briefCount >= INTERVAL_TOO_BRIEF_MAX) {
        return this.fail(expiryFailure(response.phrase, `again after asking ${asked} s (Min-Expires ${min} s)`));
      }
      // RFC 3261 §10.2.8: retry at once with the server's minimum, and keep asking at least that.
      attempt.briefCount++;
      this.minExpiresS = min;
      attempt.expiresS = min;
      this.env.log.info({ trunk: this.trunk.name, askedS: asked, minExpiresS: min }, 'trunk expiry too brief for the upstream: asking its Min-Expires');
      return this.send(attempt);
    }
    return this.fail(classifyStatus(status, response.phrase, response.retryAfterS));
  }

  private onChallenge(attempt: Attempt, response: TrunkResponse): void {
    const proxy = response.status === 407;
    const picked = pickChallenge(response.challenges.filter((c) => c.proxy === proxy).map((c) => c.digest), this.trunk.allowMd5WithoutQop);
    if (typeof picked === 'string') {
      if (attempt.unregister) return this.finishUnregister(attempt, false, `cannot answer the challenge: ${picked}`);
      return this.fail(challengeFailure(response.status, picked));
    }
    const alreadyAnswered = proxy ? attempt.freshProxy : attempt.freshWww;
    if (alreadyAnswered) {
      // A second challenge after our credentials: wrong password unless the server only says the
      // nonce went stale (RFC 2617 §3.2.1 stale=true), which is answered again without a failure.
      if (!picked.stale || attempt.staleCount >= STALE_NONCE_MAX) {
        if (attempt.unregister) return this.finishUnregister(attempt, false, 'credentials refused');
        const digestUser = this.trunk.authUser === '' ? this.trunk.username : this.trunk.authUser;
        if (proxy) this.proxyAuth = null; else this.www = null;
        return this.fail(credentialsFailure(response.status, response.phrase, digestUser));
      }
      attempt.staleCount++;
    }
    if (proxy) {
      this.proxyAuth = picked;
      attempt.freshProxy = true;
    } else {
      this.www = picked;
      attempt.freshWww = true;
    }
    this.send(attempt);
  }

  private onAccepted(attempt: Attempt, response: TrunkResponse, route: Route): void {
    const now = this.env.clock.nowMs();
    const sent = attempt.contacts[0]!;
    const sentHost = this.publicAddress?.host ?? uriHost(route.localAddress);
    const sentPort = this.publicAddress?.port ?? route.localPort;
    // RFC 3581 §4 / RFC 3261 §18.2.1: the upstream's view of our address. When it differs from the
    // Contact we sent, a NAT sits between us: re-register at once with the address it sees, removing
    // the unreachable Contact in the same request (RFC 3261 §10.2.2: per-contact expires=0).
    // No `received` means the packet came from our Via sent-by host, i.e. our local address.
    const seenHost = response.viaReceived ?? route.localAddress;
    const seenPort = response.viaRport ?? route.localPort;
    if ((!sameHost(seenHost, sentHost) || seenPort !== sentPort) && attempt.natFixCount < 1) {
      attempt.natFixCount++;
      this.publicAddress = { host: uriHost(seenHost), port: seenPort };
      const stale = sent.uri;
      this.contactUri = this.contactFor(route);
      attempt.contacts = [{ uri: this.contactUri, expiresS: null }, { uri: stale, expiresS: 0 }];
      this.env.log.info({ trunk: this.trunk.name, sent: stale, seen: this.contactUri }, 'trunk is behind NAT: registering the address the upstream sees');
      return this.send(attempt);
    }
    const granted = this.grantedFrom(response, attempt.expiresS);
    if (granted <= 0) return this.fail(noGrantFailure());
    const wasRegistered = this.state === 'registered';
    const fixedS = this.fixedExpiresS();
    const delayMs = refreshDelayMs(granted, fixedS);
    this.grantedExpiresS = granted;
    this.lastSuccessAtMs = now;
    this.registeredUntilMs = now + granted * 1000;
    this.failureCount = 0;
    this.credentialFailureCount = 0;
    this.downSinceMs = null;
    if (granted > GRANTED_EXPIRES_MAX_S) {
      this.lastReason = `registered; granted ${granted} s, refreshed as if ${GRANTED_EXPIRES_MAX_S} s (the longest grant planned on)`;
      this.env.log.warn({ trunk: this.trunk.name, grantedS: granted, plannedS: GRANTED_EXPIRES_MAX_S }, 'trunk granted an absurd expiry: refreshing within a day');
    } else {
      this.lastReason = granted < attempt.expiresS ? `registered; asked ${attempt.expiresS} s, granted ${granted} s` : 'registered';
    }
    this.nextActionAtMs = now + delayMs;
    this.attempt = null;
    this.transition('registered');
    this.arm(delayMs, () => { void this.register(); });
    this.startKeepalive();

    const behindNat = this.publicAddress !== null && !(sameHost(this.publicAddress.host, route.localAddress) && this.publicAddress.port === route.localPort);
    let warning = '';
    if (behindNat && granted > NAT_PINHOLE_SAFE_S) {
      const ka = this.params().uaKeepaliveIntervalS;
      warning = ka > 0 && ka <= NAT_PINHOLE_SAFE_S
        ? `; behind NAT with a ${granted} s expiry: the pinhole depends on the ${ka} s keepalive`
        : `; WARNING behind NAT with a ${granted} s expiry and no keepalive (SS_SIP_USER_AGENT_KEEPALIVE): the NAT pinhole may close and inbound calls stop`;
    }
    const detail = `registered to ${route.registrarText} as ${this.contactUri}, expires ${granted} s${warning}`;
    if (warning !== '' && this.warnedPinhole !== detail) {
      this.warnedPinhole = detail;
      this.env.log.warn({ trunk: this.trunk.name, grantedS: granted, contact: this.contactUri, keepaliveS: this.params().uaKeepaliveIntervalS }, 'trunk expiry longer than a NAT pinhole survives');
    }
    if (!wasRegistered || attempt.natFixCount > 0) {
      this.env.log.info({ trunk: this.trunk.name, registrar: route.registrarText, contact: this.contactUri, grantedS: granted, refreshInMs: delayMs }, 'trunk registered');
      this.env.event('trunk_registered', this.trunk.name, route.registrarText, detail);
    } else if (this.env.log.isLevelEnabled('debug')) {
      this.env.log.debug({ trunk: this.trunk.name, grantedS: granted, refreshInMs: delayMs }, 'trunk registration refreshed');
    }
  }

  /** The expiry granted to our Contact: its `expires` in the 200 (RFC 3261 §10.2.4), else Expires, else what we asked. */
  private grantedFrom(response: TrunkResponse, askedS: number): number {
    const ours = this.contactUri;
    for (const c of response.contacts) {
      const port = c.port < 0 ? 5060 : c.port;
      if (`sip:${c.user}@${c.host}:${port}`.toLowerCase() === ours.toLowerCase() && c.expiresS >= 0) return c.expiresS;
    }
    if (response.expiresS !== null) return response.expiresS;
    // A 200 listing contacts but not ours with an expiry, and no Expires: take what we asked.
    return askedS;
  }

  private fail(failure: Failure): void {
    const now = this.env.clock.nowMs();
    this.attempt = null;
    this.failureCount++;
    this.downSinceMs ??= now;
    counters.trunkFailures++;
    if (isCredentialFailure(failure.kind)) this.credentialFailureCount++;
    else this.credentialFailureCount = 0;
    this.lastStatus = failure.status;
    // The alert stays visible in `sipreg trunks` and the console for as long as the streak lasts.
    this.lastReason = this.credentialFailureCount >= CREDENTIAL_ALERT_COUNT
      ? `${failure.reason} [ALERT: ${this.credentialFailureCount} credential failures in a row]`
      : failure.reason;
    this.nextActionAtMs = null;
    this.transition('failed');
    const delayMs = retryDelayMs(this.params().uaRetryDelayS, failure.retryAfterS);
    this.env.log.warn({ trunk: this.trunk.name, reason: failure.reason, status: failure.status, failures: this.failureCount, retryInS: delayMs / 1000 }, 'trunk registration failed');
    this.env.event('trunk_failed', this.trunk.name, this.registrarText, `${failure.reason}; attempt ${this.failureCount} failed, retry in ${delayMs / 1000} s`);
    if (this.credentialFailureCount === CREDENTIAL_ALERT_COUNT) {
      // The event's detail is prefixed with the trunk's name by `event`; the log line carries it as a field.
      const text = `${CREDENTIAL_ALERT_COUNT} credential failures in a row (${failure.reason}); still retrying every ${delayMs / 1000} s`;
      this.env.log.error({ trunk: this.trunk.name, failures: this.credentialFailureCount }, `trunk credentials refused: ${text}`);
      this.env.event('trunk_alert', this.trunk.name, this.registrarText, text);
    }
    this.nextActionAtMs = now + delayMs;
    this.transition('retry_wait');
    this.arm(delayMs, () => { void this.register(); });
  }

  // ---- keepalive --------------------------------------------------------------------------------

  /**
   * Keeps the NAT mapping toward the upstream open between refreshes: a CRLF CRLF datagram every
   * SS_SIP_USER_AGENT_KEEPALIVE seconds while registered. The double CRLF is the keepalive ping of
   * RFC 5626 §4.4.1 (registrars ignore it, RFC 3261 §7.5 lets CRLFs precede a message); it needs no
   * transaction and no answer, and any outbound packet refreshes the mapping. Chosen over OPTIONS,
   * which would cost the upstream a transaction and answer every 30 s per trunk.
   */
  private startKeepalive(): void {
    if (this.keepaliveTimer !== null) return;
    const intervalS = this.params().uaKeepaliveIntervalS;
    if (intervalS <= 0) return;
    this.keepaliveTimer = this.env.clock.setTimer(() => {
      this.keepaliveTimer = null;
      const route = this.route;
      if (this.halted || route === null || this.registeredUntilMs <= this.env.clock.nowMs()) return;
      this.env.endpoint.send(route.socketIndex, KEEPALIVE, route.target.port, route.target.address);
      this.startKeepalive();
    }, intervalS * 1000);
  }

  private stopKeepalive(): void {
    if (this.keepaliveTimer !== null) this.env.clock.clearTimer(this.keepaliveTimer);
    this.keepaliveTimer = null;
  }

  // ---- un-REGISTER ------------------------------------------------------------------------------

  /**
   * Stops the agent. With `sendUnregister` and a binding the upstream still holds, sends REGISTER
   * Expires: 0 for our Contact (answering a challenge if asked) and resolves when answered or after
   * UNREGISTER_WAIT_MS. The final state is `unregistered` (or `disabled` when `finalState` says so).
   */
  async shutdown(sendUnregister: boolean, why: string, finalState: 'unregistered' | 'disabled' = 'unregistered'): Promise<void> {
    this.cancelWork();
    this.stopKeepalive();
    this.halted = true;
    const now = this.env.clock.nowMs();
    const route = this.route;
    const bound = route !== null && this.registeredUntilMs > now && this.contactUri !== '';
    let detail: string;
    if (!bound) {
      detail = `${why}; was not registered`;
    } else if (!sendUnregister) {
      detail = `${why}; registration left to lapse at the upstream (SS_SIP_USER_AGENT_SEND_UNREGISTER Off)`;
    } else {
      const ok = await new Promise<boolean>((resolve) => {
        this.halted = false; // the un-REGISTER's own transactions run; nothing else is scheduled
        const attempt: Attempt = {
          generation: this.generation, unregister: true, contacts: [{ uri: this.contactUri, expiresS: null }], expiresS: 0,
          freshWww: false, freshProxy: false, staleCount: 0, briefCount: 0, natFixCount: 0,
          deadlineAtMs: now + UNREGISTER_WAIT_MS, done: resolve,
        };
        this.attempt = attempt;
        this.send(attempt);
      });
      this.halted = true;
      detail = ok ? `${why}; un-REGISTER accepted by ${this.registrarText}` : `${why}; un-REGISTER not confirmed (${this.lastReason})`;
      if (ok) this.registeredUntilMs = 0;
    }
    this.nextActionAtMs = null;
    this.downSinceMs = null;
    this.lastReason = detail;
    if (finalState === 'disabled' && this.registrarText === '') this.registrarText = configuredRegistrar(this.trunk);
    this.transition(finalState);
    this.env.log.info({ trunk: this.trunk.name, detail }, 'trunk unregistered');
    this.env.event('trunk_unregistered', this.trunk.name, this.registrarText, detail);
  }

  private finishUnregister(attempt: Attempt, ok: boolean, text: string): void {
    this.attempt = null;
    if (!ok) this.lastReason = text;
    const done = attempt.done;
    attempt.done = null;
    if (done !== null) done(ok);
  }
}

/** `registrar[:port]`, and `via proxy host[:port]`: where a trunk registers, as its config says. */
export function configuredRegistrar(t: Trunk): string {
  const at = (host: string, port: number | null): string => (port === null ? host : hostPort(host, port));
  return `${at(t.registrar, t.port)}${t.proxy === null ? '' : ` via proxy ${at(t.proxy.host, t.proxy.port)}`}`;
}

const KEEPALIVE = Buffer.from('\r\n\r\n', 'latin1');
