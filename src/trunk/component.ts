/**
 * The trunks component: one TrunkAgent per configured trunk, started with a small random spread,
 * reconciled with the config on reload, stopped (un-REGISTERing per SS_SIP_USER_AGENT_SEND_UNREGISTER)
 * on SIGTERM, and driven by the operator's `trunk_reregister` command.
 */
import type { Component, ServiceContext } from '../component.js';
import type { SipEndpoint } from '../sip/endpoint.js';
import type { Config, Trunk } from '../config/types.js';
import { appendEvent, type CommandRecord, type EventType, type TrunkStateRecord } from '../store/index.js';
import { TrunkAgent, type AgentEnv } from './agent.js';
import { systemClock, type TrunkClock } from './clock.js';
import { dnsResolver, routeSourceAddress, type Resolver, type Target } from './resolve.js';
import { START_SPREAD_MS } from './timing.js';

export interface TrunksOptions {
  /** Time source (tests: a fake clock). Default: Date.now and node timers. */
  readonly clock?: TrunkClock;
  /** Name resolution (tests: a table). Default: node:dns per RFC 3263. */
  readonly resolver?: Resolver;
  /** Source address toward a target, for wildcard listen sockets. Default: a connected throwaway UDP socket. */
  readonly routeSource?: (target: Target) => Promise<string>;
  /** 0 <= x < 1, for the start-up spread. Default Math.random. */
  readonly random?: () => number;
  /** Called with every record persisted (tests watch the transitions). */
  readonly onRecord?: (record: TrunkStateRecord) => void;
}

/** Settings that name a different registration: a change means un-REGISTER the old one, register anew. */
function identity(t: Trunk): string {
  return JSON.stringify([t.registrar, t.port, t.proxy?.host ?? null, t.proxy?.port ?? null, t.username, t.domain]);
}

/** Settings that change how we register but not where: a change means register again now. */
function terms(t: Trunk, c: Config): string {
  const expiry = t.expiresS ?? c.params.uaExpiresS;
  return JSON.stringify([t.authUser, t.password, expiry, expiry === 'auto' ? c.params.uaDefaultExpiresS : null, t.allowMd5WithoutQop]);
}

/** What every trunk agent reaches the service through: the endpoint, the clock, DNS, the store. */
function agentEnv(ctx: ServiceContext, endpoint: SipEndpoint, clock: TrunkClock, options: TrunksOptions): AgentEnv {
  return {
    endpoint,
    clock,
    resolver: options.resolver ?? dnsResolver(),
    routeSource: options.routeSource ?? routeSourceAddress,
    log: ctx.log,
    config: () => ctx.config(),
    persist(record) {
      options.onRecord?.(record);
      // Not awaited: lmdb-js puts the writes of one event-loop turn in one commit.
      ctx.store.trunks.put(record.name, record).catch((err: unknown) => ctx.log.error({ err, trunk: record.name }, 'trunk state write failed'));
    },
    event(type: EventType, trunk: string, source: string, detail: string) {
      appendEvent(ctx.store, { atMs: clock.nowMs(), type, number: '', source, userAgent: '', detail: `trunk ${trunk}: ${detail}` })
        .catch((err: unknown) => ctx.log.error({ err, trunk }, 'trunk event write failed'));
    },
  };
}

/** The operator's `trunks --reregister [NAME]`: every enabled trunk, or the one named, registers now. */
function reregister(ctx: ServiceContext, agents: ReadonlyMap<string, TrunkAgent>, cmd: CommandRecord): boolean {
  if (cmd.type !== 'trunk_reregister') return false;
  const all = cmd.arg === '' || cmd.arg === '*';
  let found = false;
  for (const agent of agents.values()) {
    if (!all && agent.name !== cmd.arg) continue;
    if (agent.currentState === 'disabled') continue;
    found = true;
    ctx.log.info({ trunk: agent.name }, 'trunk re-register requested by the operator');
    agent.registerNow();
  }
  if (!found) ctx.log.warn({ trunk: cmd.arg }, 'trunk re-register: no such enabled trunk');
  return found;
}

export function trunks(ctx: ServiceContext, endpoint: SipEndpoint, options: TrunksOptions = {}): Component {
  const clock = options.clock ?? systemClock();
  const random = options.random ?? Math.random;
  const agents = new Map<string, TrunkAgent>();
  /** Un-REGISTERs of removed or re-identified trunks still running; stop() waits for them. */
  const background = new Set<Promise<void>>();

  const env = agentEnv(ctx, endpoint, clock, options);

  const track = (p: Promise<void>): void => {
    const tracked = p.catch((err: unknown) => ctx.log.error({ err }, 'trunk un-REGISTER failed')).finally(() => background.delete(tracked));
    background.add(tracked);
  };

  const launch = (trunk: Trunk, delayMs: number): TrunkAgent => {
    const agent = new TrunkAgent(trunk, env);
    agents.set(trunk.name, agent);
    if (trunk.enabled) agent.start(delayMs); else agent.disable();
    return agent;
  };

  const spread = (): number => Math.floor(random() * START_SPREAD_MS);

  return {
    name: 'trunks',

    async start() {
      const config = ctx.config();
      const names = new Set(config.trunks.map((t) => t.name));
      // Records of trunks no longer configured (from an earlier config) would show as ghosts.
      for (const { key } of ctx.store.trunks.getRange({})) {
        if (!names.has(key)) void ctx.store.trunks.remove(key);
      }
      for (const trunk of config.trunks) launch(trunk, spread());
      // Only the trunks that register: a disabled one is not starting.
      const enabled = config.trunks.filter((t) => t.enabled).map((t) => t.name);
      const disabled = config.trunks.filter((t) => !t.enabled).map((t) => t.name);
      if (enabled.length > 0) ctx.log.info({ trunks: enabled }, 'trunk registrations starting');
      if (disabled.length > 0) ctx.log.info({ trunks: disabled }, 'trunks disabled in the config: not registering');
    },

    reload(next: Config, previous: Config) {
      const sendUnregister = next.params.uaSendUnregister;
      const nextByName = new Map(next.trunks.map((t) => [t.name, t]));
      for (const [name, agent] of [...agents]) {
        const trunk = nextByName.get(name);
        if (trunk === undefined) {
          // Removed: un-REGISTER per SEND_UNREGISTER, then forget its record.
          agents.delete(name);
          track(agent.shutdown(sendUnregister, 'removed from the config').then(() => ctx.store.trunks.remove(name).then(() => undefined)));
          continue;
        }
        const was = agent.config;
        if (!trunk.enabled) {
          if (agent.currentState !== 'disabled') track(agent.shutdown(sendUnregister, 'disabled in the config', 'disabled'));
          agent.update(trunk);
          continue;
        }
        if (!was.enabled || agent.currentState === 'disabled' || identity(trunk) !== identity(was)) {
          // Enabled again, or a different registration: the old one goes (per SEND_UNREGISTER) and a
          // new agent (new Call-ID) starts once it is gone.
          agents.delete(name);
          const old = agent.currentState === 'disabled'
            ? Promise.resolve()
            : agent.shutdown(sendUnregister, 'replaced by changed settings');
          const fresh = new TrunkAgent(trunk, env);
          agents.set(name, fresh);
          track(old.then(() => { if (agents.get(name) === fresh) fresh.start(0); }));
          continue;
        }
        const changed = terms(trunk, next) !== terms(was, previous);
        agent.update(trunk);
        if (changed) {
          ctx.log.info({ trunk: name }, 'trunk settings changed: registering again');
          agent.registerNow();
        }
      }
      for (const trunk of next.trunks) {
        if (!agents.has(trunk.name)) launch(trunk, spread());
      }
    },

    command(cmd: CommandRecord) { return reregister(ctx, agents, cmd); },

    async stop() {
      const sendUnregister = ctx.config().params.uaSendUnregister;
      const all = [...agents.values()].filter((a) => a.currentState !== 'disabled')
        .map((a) => a.shutdown(sendUnregister, 'service stopping'));
      for (const a of agents.values()) if (a.currentState === 'disabled') a.halt();
      agents.clear();
      await Promise.all([...all, ...background]);
    },
  };
}
