import type { Component, ServiceContext } from './component.js';

/** The parts `sipreg run` starts, in order (housekeeping always comes first, from run.ts). */
export const serviceComponents: ((ctx: ServiceContext) => Component)[] = [];
