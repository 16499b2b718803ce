/**
 * What an omitted key of the config file means (the SS_* parameters have theirs in params.ts).
 */
import { VERSION } from '../version.js';
import type { LogLevel } from './types.js';

export const configDefaults = {
  listen: ['0.0.0.0:5060'],
  realm: 'sipreg',
  dataDir: '/var/lib/sipreg',
  logLevel: 'info' as LogLevel,
  userAgent: `sipreg/${VERSION}`,
} as const;
