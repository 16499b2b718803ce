import type { Component, ServiceContext } from './component.js';
import { statsSampler } from '../stats/sampler.js';

/** The parts `sipreg run` starts, in order (housekeeping always comes first, from run.ts). */
export const serviceComponents: ((ctx: ServiceContext) => Component)[] = [
  statsSampler,
];
