import type { Component, ServiceContext } from '../component.js';
import { statsSampler } from '../stats/sampler.js';
import { sipService, sipServiceComponent } from './sip.js';
import { natKeepalive } from '../registrar/keepalive.js';
import { lockoutSweeper } from '../registrar/guard.js';
import { trunks } from '../trunk/index.js';

/**
 * The parts `sipreg run` starts, in order (housekeeping always comes first, from run.ts); they stop in
 * reverse order, so the trunks send their un-REGISTERs while the sockets are still open.
 */
export const serviceComponents: ((ctx: ServiceContext) => Component)[] = [
  statsSampler,
  sipServiceComponent, // sockets, registrar, expiry sweep; the parts below get the endpoint via sipService(ctx)
  (ctx) => natKeepalive(ctx, sipService(ctx).endpoint),
  lockoutSweeper,
  (ctx) => trunks(ctx, sipService(ctx).endpoint),
];
