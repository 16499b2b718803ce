/**
 * store/: one LMDB environment in data_dir — the single source of truth shared by the service, the
 * console and the admin commands (docs/architecture.md). Named databases: meta, bindings, expiry, events,
 * lockouts, trunks, samples, commands.
 */
export * from './records.js';
export * from './open.js';
export * from './keys.js';
export * from './bindings.js';
export * from './bytes.js';
export * from './events.js';
export * from './lockouts.js';
export * from './service.js';
export * from './samples.js';
export * from './trunks.js';
export * from './commands.js';
export * from './flush.js';
export * from './config-record.js';
export * from './space.js';
export * from './budget.js';
export { storeLimits } from '../limits.js';
export * from './compact.js';
export * from './schema-snapshots.js';
