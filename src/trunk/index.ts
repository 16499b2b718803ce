/**
 * trunk/ — outbound registration of the appliance to its upstream providers. The service
 * builds it with the SipEndpoint it owns:
 *
 *   import { trunks } from '../trunk/index.js';
 *   const component = trunks(ctx, endpoint);   // a Component: start, reload, command, stop
 *
 * One state machine per trunk (agent.ts); timing rules (timing.ts); operator words for failures
 * (reason.ts); DNS and local address (resolve.ts); UDP client transactions (transaction.ts).
 */
export { trunks } from './component.js';
export type { TrunksOptions } from './component.js';
export { TrunkAgent } from './agent.js';
export type { AgentEnv } from './agent.js';
export { systemClock } from './clock.js';
export type { TrunkClock, TimerHandle } from './clock.js';
export { dnsResolver, routeSourceAddress, literalTarget, hostPort } from './resolve.js';
export type { Resolver, ResolveResult, Target } from './resolve.js';
export {
  T1_MS, T2_MS, TIMER_F_MS, UNREGISTER_WAIT_MS, START_SPREAD_MS, NAT_PINHOLE_SAFE_S, CREDENTIAL_ALERT_COUNT, GRANTED_EXPIRES_MAX_S, RETRY_AFTER_MAX_S,
  askedExpiresS, refreshDelayMs, retryDelayMs, retransmitIntervalMs,
} from './timing.js';
export type { FailureKind } from './reason.js';
