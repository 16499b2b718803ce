import type { Component, ServiceContext } from './component.js';
import { statsSampler } from '../stats/sampler.js';
import { sipServiceComponent } from './sip.js';

/** The parts `sipreg run` starts, in order (housekeeping always comes first, from run.ts). */
export const serviceComponents: ((ctx: ServiceContext) => Component)[] = [
  statsSampler,
  sipServiceComponent, // sockets, registrar, expiry sweep; others get the endpoint via sipService(ctx)
];
