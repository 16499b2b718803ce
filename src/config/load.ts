/**
 * YAML text -> `Config`, collecting every problem of the file in one pass with the line and column of
 * the node at fault. `parseConfigText` is a pure function of the text and the file name (no disk, no
 * environment), so SIGHUP reload and `sipreg check` run exactly the same code as start-up.
 *
 * The parts: yaml.ts holds the tree and the problems with their positions, syntax.ts the YAML library's
 * own errors, scalars.ts the typed reads of one value, read-*.ts one reader per block, redact.ts keeps
 * secrets out of the messages, suggest.ts the "did you mean".
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap } from 'yaml';
import { ConfigError } from './problems.js';
import type { ConfigProblem } from './problems.js';
import { readAccounts } from './read-accounts.js';
import { readAreas } from './read-areas.js';
import { readParams } from './read-params.js';
import { readSip } from './read-sip.js';
import { readAcl, readDataDir, readLogLevel, readMetricsTextfile } from './read-top.js';
import { readTrunks } from './read-trunks.js';
import { collectSecrets, redact } from './redact.js';
import { reportSyntaxErrors, shadowed } from './syntax.js';
import type { Config } from './types.js';
import { ConfigDocument } from './yaml.js';
import type { Entry, Mapping } from './yaml.js';

export interface LoadResult {
  readonly config: Config | null;          // null when there is any problem
  readonly problems: readonly ConfigProblem[]; // sorted by position; empty when valid
  /** What could be read with the problems set aside (defaults in their place); null when unreadable.
   *  For reading admin commands, which need only data_dir while an operator is mid-edit. */
  readonly draft: Config | null;
}

/** Keys of the top level, in the order of the example file. Anything else is an unknown key. */
const topKeys = ['sip', 'acl', 'data_dir', 'log_level', 'metrics_textfile', 'params', 'accounts', 'trunks', 'areas'] as const;

/** Reads `file` and parses it; an unreadable file is one ERR_CONFIG_READ problem without position. */
export function loadConfig(file: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    return { config: null, problems: [{ file, line: 0, col: 0, key: '', code: 'ERR_CONFIG_READ', message: `cannot read: ${readFailureReason(error)}` }], draft: null };
  }
  return parseConfigText(text, file);
}

/**
 * The config for a reader that has no use for the accounts (the reading admin commands, the console):
 * the file's top-level `accounts:` block is left out before the YAML is parsed. Reading 10,000 accounts
 * took ~1 s and ~70 MiB more at peak in every `sipreg stats` and `list` (and again to follow the
 * service's file), which on a 256 MiB box squeezed the service's code out of memory. The block is
 * blanked line for line, so the positions of any problem are the file's; when the file is not plainly
 * one document with one such block, or the rest does not load without it (an alias into it), the
 * whole file is read as usual. The config says `accountsOmitted` when they were left out.
 */
export function parseConfigTextForReading(text: string, file: string): LoadResult {
  const light = withoutAccounts(text);
  if (light !== null) {
    const r = parseConfigText(light, file);
    if (r.config !== null) return { config: { ...r.config, accountsOmitted: true }, problems: [], draft: r.draft };
  }
  return parseConfigText(text, file);
}

export function loadConfigForReading(file: string): LoadResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return loadConfig(file);   // says why
  }
  return parseConfigTextForReading(text, file);
}

/** The text with its top-level `accounts:` block blanked (`accounts: []`, then empty lines); null when
 *  there is none, more than one, or the file has document markers or directives. */
export function withoutAccounts(text: string): string | null {
  if (/^(---|\.\.\.|%)/m.test(text)) return null;
  const lines = text.split('\n');
  const starts = lines.flatMap((l, i) => (/^accounts[ \t]*:/.test(l) ? [i] : []));
  if (starts.length !== 1) return null;
  const start = starts[0]!;
  lines[start] = 'accounts: []';
  for (let i = start + 1; i < lines.length && (lines[i] === '' || /^[\s#]/.test(lines[i]!)); i++) lines[i] = '';
  return lines.join('\n');
}

/** For start-up: the config, or a ConfigError carrying every problem. */
export function loadConfigOrThrow(file: string): Config {
  const { config, problems } = loadConfig(file);
  if (config === null) throw new ConfigError(problems);
  return config;
}

/** `ENOENT: no such file or directory` without Node's `, open 'path'` tail (the caller names the file). */
export function readFailureReason(error: unknown): string {
  if (error instanceof Error) return error.message.replace(/, (open|read|scandir)( '.*')?$/, '');
  return String(error);
}

/** The whole load: pure, synchronous; `file` names the problems and anchors relative paths. Problems
 *  come sorted, with those a syntax error shadows dropped and secrets redacted. */
export function parseConfigText(text: string, file: string): LoadResult {
  const doc = new ConfigDocument(text, file);
  const shadow = reportSyntaxErrors(doc);
  const config = readConfig(doc);
  const secrets = collectSecrets(doc);
  const problems = doc.problems.filter((p) => !shadowed(p, shadow)).map((p) => redact(p, secrets))
    .sort((a, b) => a.line - b.line || a.col - b.col);
  return { config: problems.length === 0 ? config : null, problems, draft: config };
}

/** The file's sections into a Config; what is missing or wrong stays at its default. */
function readConfig(doc: ConfigDocument): Config {
  const root = doc.tree.contents;
  let top: Mapping = new Map<string, Entry>();
  if (doc.isNull(root)) {
    if (doc.tree.errors.length === 0) {
      doc.report(root, 'yaml', 'ERR_CONFIG_REQUIRED', 'the file is empty; it needs at least a sip: section (see etc/sipreg.yaml)');
    }
  } else if (!isMap(doc.resolveAlias(root))) {
    doc.report(root, 'yaml', 'ERR_CONFIG_TYPE', `the file must be a mapping of sections (sip:, params:, accounts: ...). Received ${doc.describe(doc.resolveAlias(root))}`);
  } else {
    top = doc.mapping(root, '', topKeys) ?? top;
  }
  const absoluteFile = resolve(doc.file);
  const baseDir = dirname(absoluteFile);
  const params = readParams(doc, top.get('params'));
  const sip = readSip(doc, top.get('sip'));
  const acl = readAcl(doc, top.get('acl'));
  const dataDir = readDataDir(doc, top.get('data_dir'), baseDir);
  const logLevel = readLogLevel(doc, top.get('log_level'));
  const metricsTextfile = readMetricsTextfile(doc, top.get('metrics_textfile'), baseDir);
  const accounts = readAccounts(doc, top.get('accounts'), sip.realm, params);
  const trunks = readTrunks(doc, top.get('trunks'));
  const areas = readAreas(doc, top.get('areas'));
  return { file: absoluteFile, sip, acl, dataDir, logLevel, metricsTextfile, params, accounts, trunks, areas };
}
