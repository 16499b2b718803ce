/**
 * config/: the YAML file -> one typed `Config` (types.ts), the SS_* parameter table (params.ts), and
 * `sipreg check`. Nothing else in sipreg parses YAML.
 */
export { checkCommand } from './check.js';
export { configDefaults } from './defaults.js';
export { loadConfig, loadConfigForReading, loadConfigOrThrow, parseConfigText, parseConfigTextForReading, readFailureReason } from './load.js';
export type { LoadResult } from './load.js';
export {
  checkParamRelations, defaultParams, formatParamRange, formatParamValue, paramSpecByName, paramSpecs,
  parseParamValue, renderParamsListing, renderParamsMarkdown,
} from './params.js';
export type { ParamOrigin, ParamSpec, ParamValue } from './params.js';
export { ConfigError, formatProblem } from './problems.js';
export type { ConfigProblem, ConfigProblemCode } from './problems.js';
export type * from './types.js';
