/**
 * YAML text -> `Config`, collecting every problem of the file in one pass with the line and column of
 * the node at fault. `parseConfigText` is a pure function of the text and the file name (no disk, no
 * environment), so SIGHUP reload and `sipreg check` run exactly the same code as start-up.
 *
 * How the file is read: YAML 1.2 core schema (so `On`, `yes`, `no` stay text and the switch reader
 * decides), duplicate keys are found here rather than by the library so each gets its key path, and
 * values that YAML turns into numbers but are meant as text (`number: 0644`) are caught.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import { VERSION } from '../version.js';
import { limits } from '../limits.js';
import { parseAllowEntry, parseCidr, parseHost, parseHostPort, parseListen, quote } from './net.js';
import { checkParamRelations, defaultParams, paramSpecByName, paramSpecs, parseInteger, parseParamValue, parseSwitch, showValue } from './params.js';
import type { ParamSpec, ParamValue } from './params.js';
import { ConfigError } from './problems.js';
import type { ConfigProblem, ConfigProblemCode } from './problems.js';
import type { Account, AllowEntry, Area, AuthMode, Cidr, Config, ListenAddress, LogLevel, Params, Trunk } from './types.js';

export interface LoadResult {
  readonly config: Config | null;          // null when there is any problem
  readonly problems: readonly ConfigProblem[]; // sorted by position; empty when valid
  /** What could be read with the problems set aside (defaults in their place); null when unreadable.
   *  For reading admin commands, which need only data_dir while an operator is mid-edit. */
  readonly draft: Config | null;
}

/** Keys of each level, in the order of the example file. Anything else is an unknown key. */
export const topKeys = ['sip', 'acl', 'data_dir', 'log_level', 'metrics_textfile', 'params', 'accounts', 'trunks', 'areas'] as const;
export const sipKeys = ['listen', 'realm', 'domains', 'user_agent'] as const;
export const aclKeys = ['allow', 'deny'] as const;
export const accountKeys = ['number', 'password', 'ha1', 'ha1_sha256', 'account', 'auth_mode', 'allow', 'expire'] as const;
export const trunkKeys = ['name', 'registrar', 'port', 'proxy', 'domain', 'username', 'auth_user', 'password', 'expire', 'enabled', 'allow_md5_without_qop'] as const;
export const areaKeys = ['name', 'prefixes'] as const;

export const authModes: readonly AuthMode[] = ['password', 'ip', 'ip_port', 'ip_password'];
export const logLevels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** What an omitted key means. */
export const configDefaults = {
  listen: ['0.0.0.0:5060'],
  realm: 'sipreg',
  dataDir: '/var/lib/sipreg',
  logLevel: 'info' as LogLevel,
  userAgent: `sipreg/${VERSION}`,
} as const;

/** RFC 3261 §25.1 `user`: unreserved / user-unreserved characters. Escapes (%HH) are refused so that
 *  the number, the AOR user and the digest username are the same string byte for byte. */
const SIP_USER = /^[A-Za-z0-9\-_.!~*'()&=+$,;?/]+$/;
const SIP_USER_LENGTH_MAX = 64; // longer than any E.164 number or extension plan needs
const NAME_LENGTH_MAX = 64;     // trunk and area names, shown in fixed-width screens
/** Keys whose values are secrets: never in a message (the redaction below is a second line of defence). */
const SECRET_KEY = /pass|secret|ha1/i;

interface Entry {
  readonly key: string;
  readonly keyNode: unknown;
  readonly node: unknown;   // the value node (possibly an alias, possibly null)
  readonly path: string;    // dotted key path
}

type Mapping = ReadonlyMap<string, Entry>;

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

/** The whole load: pure, synchronous; `file` names the problems and anchors relative paths. */
export function parseConfigText(text: string, file: string): LoadResult {
  const loader = new Loader(text, file);
  const config = loader.run();
  const problems = loader.finish();
  return { config: problems.length === 0 ? config : null, problems, draft: config };
}

class Loader {
  private readonly lineCounter = new LineCounter();
  private readonly doc: Document.Parsed;
  private readonly problems: ConfigProblem[] = [];
  private readonly syntaxLines = new Set<number>();
  private readonly tabbedKeys = new Set<string>();
  private readonly absoluteFile: string;

  constructor(private readonly source: string, private readonly file: string) {
    this.absoluteFile = resolve(file);
    this.doc = parseDocument(source, { lineCounter: this.lineCounter, uniqueKeys: false, prettyErrors: false, version: '1.2' });
  }

  // ---- positions and reporting ----

  private position(node: unknown): { line: number; col: number } {
    const range = (node as { range?: readonly number[] } | null | undefined)?.range;
    const offset = range?.[0];
    if (offset === undefined) return { line: 1, col: 1 };
    const pos = this.lineCounter.linePos(offset);
    return pos.line === 0 ? { line: 1, col: pos.col } : pos;
  }

  private report(node: unknown, key: string, code: ConfigProblemCode, message: string): void {
    const { line, col } = this.position(node);
    this.problems.push({ file: this.file, line, col, key, code, message });
  }

  private resolveAlias(node: unknown): unknown {
    if (isAlias(node)) return node.resolve(this.doc) ?? null;
    return node;
  }

  private isNull(node: unknown): boolean {
    const n = this.resolveAlias(node);
    return n === null || n === undefined || (isScalar(n) && n.value === null);
  }

  /** Sorted, with semantic problems on a line the YAML parser already flagged dropped (they are
   *  usually the parser's recovery, not the installer's intent), and secrets redacted. */
  finish(): ConfigProblem[] {
    const secrets = this.collectSecrets();
    const kept = this.problems.filter((p) => p.code === 'ERR_CONFIG_SYNTAX' || (!this.syntaxLines.has(p.line) && !this.hidByTab(p.key)));
    const out = kept.map((p) => ({ ...p, message: redact(p.message, secrets) }));
    return out.sort((a, b) => a.line - b.line || a.col - b.col);
  }

  private hidByTab(key: string): boolean {
    for (const k of this.tabbedKeys) if (k.endsWith('.') ? key.startsWith(k) : key === k) return true;
    return false;
  }

  // ---- the file ----

  run(): Config {
    const errors = [...this.doc.errors, ...this.doc.warnings];
    const multiline = errors.filter((e) => e.code === 'MULTILINE_IMPLICIT_KEY').map((e) => e.pos[0]);
    const seen = new Set<string>();
    for (const error of errors) {
      // An over-indented line makes the library report "nested mappings" and "multi-line implicit key"
      // at the value above it; the line to fix is the over-indented one, where the key's range ends.
      if (error.code === 'BLOCK_AS_IMPLICIT_KEY' && multiline.includes(error.pos[0])) continue;
      const context = this.pathAt(error.pos[0]);
      // A tab-indented line is not part of the tree: name its own key, not the value above it.
      if (error.code === 'TAB_AS_INDENT') {
        context.path = this.tabbedKeyPath(error.pos[0]) ?? context.path;
        // The tabbed line is read as missing: "needs a password" for a tab-indented password (or, in a list
        // item, for a tab-indented auth_mode) would only confuse. Those complaints wait for the next check.
        const item = /^(.*\[\d+\])\.[^.]+$/.exec(context.path)?.[1];
        this.tabbedKeys.add(item === undefined ? context.path : `${item}.`);
      }
      let offset = error.pos[0];
      let message = error.message.split('\n')[0] ?? error.message;
      const first = this.lineCounter.linePos(error.pos[0]).line;
      const last = Math.max(this.lineCounter.linePos(error.pos[1]).line, first);
      if (error.code === 'MULTILINE_IMPLICIT_KEY' && last > first) {
        offset = this.lineContentStart(last);
        message = 'this line is indented deeper than the one above, so YAML joins it to the value above (implicit keys need to be on a single line)';
      } else if (error.code === 'MISSING_CHAR' && /quote/.test(message) && context.start !== null) {
        // An unclosed quote is reported where the file ends; the installer needs where the quote opened.
        offset = context.start;
      }
      const { line, col } = this.lineCounter.linePos(offset);
      const at = { line: line === 0 ? 1 : line, col };
      for (let l = Math.min(first, at.line); l <= Math.max(last, at.line); l++) this.syntaxLines.add(l);
      if (seen.has(`${at.line}:${at.col}`)) continue; // the library often reports one mistake twice
      seen.add(`${at.line}:${at.col}`);
      this.problems.push({ file: this.file, line: at.line, col: at.col, key: context.path, code: 'ERR_CONFIG_SYNTAX',
        message: `YAML: ${message.replace(/ at line \d+, column \d+:?$/, '')}` });
    }
    const root = this.doc.contents;
    if (this.isNull(root)) {
      if (this.doc.errors.length === 0) {
        this.report(root, 'yaml', 'ERR_CONFIG_REQUIRED', 'the file is empty; it needs at least a sip: section (see etc/sipreg.yaml)');
      }
      return this.build(new Map());
    }
    if (!isMap(this.resolveAlias(root))) {
      this.report(root, 'yaml', 'ERR_CONFIG_TYPE', `the file must be a mapping of sections (sip:, params:, accounts: ...). Received ${this.describe(this.resolveAlias(root))}`);
      return this.build(new Map());
    }
    const top = this.mapping(root, '', topKeys) ?? new Map<string, Entry>();
    return this.build(top);
  }

  private build(top: Mapping): Config {
    const params = this.readParams(top.get('params'));
    const sip = this.readSip(top.get('sip'));
    const acl = this.readAcl(top.get('acl'));
    const baseDir = dirname(this.absoluteFile);

    let dataDir = resolve(baseDir, configDefaults.dataDir);
    const dataDirEntry = top.get('data_dir');
    if (dataDirEntry !== undefined) {
      const text = this.requiredText(dataDirEntry, 'must be a directory path, like /var/lib/sipreg');
      if (text !== undefined) dataDir = resolve(baseDir, text);
    }

    let logLevel: LogLevel = configDefaults.logLevel;
    const logEntry = top.get('log_level');
    if (logEntry !== undefined) {
      const text = this.text(logEntry);
      if (text !== undefined) {
        const level = logLevels.find((l) => l === text.trim().toLowerCase());
        if (level === undefined) this.report(logEntry.node, logEntry.path, 'ERR_CONFIG_OPTION', `must be one of ${logLevels.join(', ')}. Received ${quote(text)}`);
        else logLevel = level;
      }
    }

    let metricsTextfile: string | null = null;
    const metricsEntry = top.get('metrics_textfile');
    if (metricsEntry !== undefined && !this.isNull(metricsEntry.node)) {
      const text = this.text(metricsEntry);
      if (text !== undefined && text !== '') {
        // node_exporter's textfile collector reads only files named *.prom.
        if (!text.endsWith('.prom')) {
          this.report(metricsEntry.node, metricsEntry.path, 'ERR_CONFIG_OPTION', `must end in .prom (node_exporter's textfile collector reads only *.prom). Received ${quote(text)}`);
        } else {
          metricsTextfile = resolve(baseDir, text);
        }
      }
    }

    const accounts = this.readAccounts(top.get('accounts'), sip.realm, params);
    const trunks = this.readTrunks(top.get('trunks'));
    const areas = this.readAreas(top.get('areas'));
    return { file: this.absoluteFile, sip, acl, dataDir, logLevel, metricsTextfile, params, accounts, trunks, areas };
  }

  // ---- structure ----

  /** A mapping's entries by key; null (reported) when the node is not a mapping. A YAML null (`sip:`
   *  with nothing under it) is an empty mapping. Reports duplicate and unknown keys. */
  private mapping(node: unknown, path: string, known: readonly string[]): Mapping | null {
    const n = this.resolveAlias(node);
    const out = new Map<string, Entry>();
    if (this.isNull(n)) return out;
    if (!isMap(n)) {
      this.report(node, path, 'ERR_CONFIG_TYPE', `must be a mapping (key: value lines). Received ${this.describe(n)}`);
      return null;
    }
    for (const pair of n.items) {
      const keyNode = this.resolveAlias(pair.key);
      const keyValue = isScalar(keyNode) ? keyNode.value : undefined;
      if (typeof keyValue !== 'string' && typeof keyValue !== 'number') {
        this.report(pair.key, path, 'ERR_CONFIG_TYPE', 'keys must be plain names');
        continue;
      }
      const key = String(keyValue);
      const childPath = path === '' ? key : `${path}.${key}`;
      const first = out.get(key);
      if (first !== undefined) {
        this.report(pair.key, childPath, 'ERR_CONFIG_DUPLICATE_KEY',
          `appears twice in this mapping (first at line ${this.position(first.keyNode).line}); YAML would keep only one`);
        continue;
      }
      if (!known.includes(key)) {
        this.report(pair.key, childPath, 'ERR_CONFIG_UNKNOWN_KEY', `unknown key${suggestion(key, known)}`);
        continue;
      }
      out.set(key, { key, keyNode: pair.key, node: pair.value ?? null, path: childPath });
    }
    return out;
  }

  /** A list's items with their paths; a YAML null is an empty list. With `single`, one string stands
   *  for a list of one (`allow: 203.0.113.0/24`). */
  private sequence(entry: Entry, single = false): Entry[] | null {
    const n = this.resolveAlias(entry.node);
    if (this.isNull(n)) return [];
    if (single && isScalar(n) && typeof n.value === 'string') return [{ key: entry.key, keyNode: entry.keyNode, node: entry.node, path: `${entry.path}[0]` }];
    if (!isSeq(n)) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be a list (lines starting with "- ", or [a, b]). Received ${this.describe(n)}`);
      return null;
    }
    return n.items.map((item, i) => ({ key: entry.key, keyNode: item, node: item, path: `${entry.path}[${i}]` }));
  }

  private describe(node: unknown): string {
    if (isMap(node)) return 'a mapping';
    if (isSeq(node)) return 'a list';
    if (isScalar(node)) return showValue(node.value);
    return 'nothing';
  }

  // ---- scalars ----

  /**
   * Text. YAML numbers are accepted as the digits written (`number: 1001`), but not when YAML would
   * change them: `0644` (read as 644, or as octal 420 by YAML 1.1 tools), `1001.50`, `1e3`, `0x1F`.
   * With `secret`, no message shows the value.
   */
  private text(entry: Entry, secret = SECRET_KEY.test(entry.key)): string | undefined {
    const n = this.resolveAlias(entry.node);
    if (!isScalar(n)) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be text. Received ${this.describe(n)}`);
      return undefined;
    }
    const value = n.value;
    if (typeof value === 'string') return value;
    if (typeof value === 'number') {
      const source = n.source ?? String(value);
      if (/^(0|[1-9][0-9]*)$/.test(source)) return source;
      this.report(entry.node, entry.path, 'ERR_CONFIG_UNQUOTED', secret
        ? 'is read by YAML as a number, which changes it; put it in quotes'
        : `is read by YAML as the number ${String(value)}, not the text ${source}; put it in quotes: "${source}"`);
      return undefined;
    }
    if (value === null) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_REQUIRED', 'must not be empty');
      return undefined;
    }
    this.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', secret
      ? 'must be text; put it in quotes'
      : `must be text; put it in quotes. Received ${showValue(value)}`);
    return undefined;
  }

  /** Non-empty text. */
  private requiredText(entry: Entry, expected: string): string | undefined {
    const text = this.text(entry);
    if (text === undefined) return undefined;
    if (text.trim() === '') {
      this.report(entry.node, entry.path, 'ERR_CONFIG_REQUIRED', `must not be empty; ${expected}`);
      return undefined;
    }
    return text;
  }

  private integer(entry: Entry, min: number, max: number, unit: string, rangeNote = ''): number | undefined {
    const n = this.resolveAlias(entry.node);
    const value = isScalar(n) ? n.value : undefined;
    const parsed = parseInteger(value);
    if (parsed === null) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be an integer${unit === '' ? '' : ` (${unit})`}. Received ${this.describe(n)}`);
      return undefined;
    }
    if (parsed < min || parsed > max) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_RANGE', `must be ${min}..${max}${rangeNote}. Received ${parsed}`);
      return undefined;
    }
    return parsed;
  }

  private onOff(entry: Entry): boolean | undefined {
    const n = this.resolveAlias(entry.node);
    const value = isScalar(n) ? n.value : undefined;
    const parsed = parseSwitch(value);
    if (parsed === null) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_OPTION', `must be On or Off (also 1/0, true/false, yes/no). Received ${this.describe(n)}`);
      return undefined;
    }
    return parsed;
  }

  /** Every item of a list parsed by `parse`; a failing item is reported with `code` and skipped. */
  private parsedList<T>(entry: Entry, code: ConfigProblemCode, parse: (text: string) => { value: T | null; error: string | null }): T[] | undefined {
    const items = this.sequence(entry, true);
    if (items === null) return undefined;
    const out: T[] = [];
    let failed = false;
    for (const item of items) {
      const text = this.text(item);
      if (text === undefined) { failed = true; continue; }
      const parsed = parse(text.trim());
      if (parsed.value === null) {
        this.report(item.node, item.path, code, parsed.error ?? 'is not valid');
        failed = true;
        continue;
      }
      out.push(parsed.value);
    }
    return failed ? undefined : out;
  }

  // ---- sections ----

  private readParams(entry: Entry | undefined): Params {
    const out: Record<string, ParamValue> = { ...(defaultParams as unknown as Record<string, ParamValue>) };
    if (entry === undefined) return out as unknown as Params;
    const names = paramSpecs.map((s) => s.name);
    const map = this.mapping(entry.node, entry.path, names);
    if (map === null) return out as unknown as Params;
    for (const [name, param] of map) {
      const spec = paramSpecByName.get(name);
      if (spec === undefined) continue;
      const value = this.paramValue(spec, param);
      if (value !== undefined) out[spec.field] = value;
    }
    const params = out as unknown as Params;
    for (const relation of checkParamRelations(params)) {
      const blamed = [relation.name, ...relation.others].map((n) => map.get(n)).find((e) => e !== undefined);
      this.report(blamed?.node ?? entry.node, `params.${relation.name}`, 'ERR_CONFIG_RELATION', relation.message);
    }
    return params;
  }

  private paramValue(spec: ParamSpec, entry: Entry): ParamValue | undefined {
    const n = this.resolveAlias(entry.node);
    let input: unknown;
    if (isScalar(n)) input = n.value;
    else if (isSeq(n) && spec.kind === 'list') input = n.items.map((item) => { const r = this.resolveAlias(item); return isScalar(r) ? r.value : undefined; });
    else {
      this.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be a single value. Received ${this.describe(n)}`);
      return undefined;
    }
    const parsed = parseParamValue(spec, input);
    if (parsed.code !== null) {
      this.report(entry.node, entry.path, parsed.code, parsed.message);
      return undefined;
    }
    return parsed.value;
  }

  private readSip(entry: Entry | undefined): Config['sip'] {
    const sip = { listen: [] as ListenAddress[], realm: configDefaults.realm as string, domains: [] as string[], userAgent: configDefaults.userAgent as string };
    const defaultListen = configDefaults.listen.map((t) => parseListen(t).value).filter((l): l is ListenAddress => l !== null);
    const map = entry === undefined ? new Map<string, Entry>() : this.mapping(entry.node, entry.path, sipKeys);
    if (map === null) return { ...sip, listen: defaultListen };

    const listenEntry = map.get('listen');
    if (listenEntry === undefined) {
      sip.listen = defaultListen;
    } else {
      const items = this.sequence(listenEntry, true);
      if (items !== null && items.length === 0) {
        this.report(listenEntry.node, listenEntry.path, 'ERR_CONFIG_REQUIRED', 'must list at least one address to listen on, like "0.0.0.0:5060"');
      }
      if (items !== null && items.length > limits.listenAddressCountMax) {
        this.report(listenEntry.node, listenEntry.path, 'ERR_CONFIG_RANGE', `must list at most ${limits.listenAddressCountMax} addresses. Received ${items.length}`);
      }
      const seen = new Map<string, Entry>();
      for (const item of items ?? []) {
        const text = this.text(item);
        if (text === undefined) continue;
        const parsed = parseListen(text.trim());
        if (parsed.value === null) { this.report(item.node, item.path, 'ERR_CONFIG_ADDRESS', parsed.error); continue; }
        const canonical = `${canonicalAddress(parsed.value.host)}/${parsed.value.port}`; // [::0] is [::]
        const first = seen.get(canonical);
        if (first !== undefined) {
          this.report(item.node, item.path, 'ERR_CONFIG_DUPLICATE', `listens on ${quote(text)} twice (first at line ${this.position(first.node).line})`);
          continue;
        }
        seen.set(canonical, item);
        sip.listen.push(parsed.value);
      }
    }

    const realmEntry = map.get('realm');
    if (realmEntry !== undefined) {
      const realm = this.text(realmEntry);
      if (realm !== undefined) {
        if (realm.trim() === '') {
          this.report(realmEntry.node, realmEntry.path, 'ERR_CONFIG_REQUIRED', 'must not be empty; the digest realm phones show when asking for a password');
        } else if (/["\\\x00-\x1f\x7f]/.test(realm)) {
          // It goes inside a quoted-string of WWW-Authenticate (RFC 3261 §25.1).
          this.report(realmEntry.node, realmEntry.path, 'ERR_CONFIG_TYPE', `must not contain quotes, backslashes or control characters. Received ${quote(realm)}`);
        } else {
          sip.realm = realm;
        }
      }
    }

    const domainsEntry = map.get('domains');
    if (domainsEntry !== undefined) {
      sip.domains = (this.parsedList(domainsEntry, 'ERR_CONFIG_HOST', parseHost) ?? []).map((d) => d.toLowerCase());
    }

    const uaEntry = map.get('user_agent');
    if (uaEntry !== undefined) {
      const ua = this.requiredText(uaEntry, 'the Server/User-Agent header sipreg sends');
      if (ua !== undefined) {
        if (/[\x00-\x1f\x7f]/.test(ua)) this.report(uaEntry.node, uaEntry.path, 'ERR_CONFIG_TYPE', `must not contain control characters. Received ${quote(ua)}`);
        else sip.userAgent = ua.trim();
      }
    }
    return sip;
  }

  private readAcl(entry: Entry | undefined): Config['acl'] {
    const map = entry === undefined ? null : this.mapping(entry.node, entry.path, aclKeys);
    const list = (key: string): Cidr[] => {
      const e = map?.get(key);
      return e === undefined ? [] : this.parsedList(e, 'ERR_CONFIG_CIDR', parseCidr) ?? [];
    };
    return { allow: list('allow'), deny: list('deny') };
  }

  private readAccounts(entry: Entry | undefined, realm: string, params: Params): Account[] {
    if (entry === undefined) return [];
    const items = this.sequence(entry);
    if (items === null) return [];
    const out: Account[] = [];
    const numbers = new Map<string, Entry>();
    for (const item of items) {
      const account = this.readAccount(item, numbers, realm, params);
      if (account !== null) out.push(account);
    }
    return out;
  }

  /** One `accounts:` item; `numbers` holds the numbers seen so far, for the duplicate check. */
  private readAccount(item: Entry, numbers: Map<string, Entry>, realm: string, params: Params): Account | null {
    const map = this.mapping(item.node, item.path, accountKeys);
    if (map === null) return null;
    const field = (key: string): Entry | undefined => map.get(key);
    const number = this.accountNumber(field('number'), item, numbers);

    let authMode: AuthMode = 'password';
    const modeEntry = field('auth_mode');
    if (modeEntry !== undefined) {
      const text = this.text(modeEntry);
      const mode = authModes.find((m) => m === text?.trim().toLowerCase());
      if (text !== undefined && mode === undefined) {
        this.report(modeEntry.node, modeEntry.path, 'ERR_CONFIG_OPTION', `must be one of ${authModes.join(', ')}. Received ${quote(text)}`);
      }
      if (mode !== undefined) authMode = mode;
    }

    const { password, ha1, ha1Sha256 } = this.accountSecrets(field, item, authMode, params);
    const allow = this.accountAllow(field('allow'), item, authMode);

    let expiresS: number | null = null;
    const expireEntry = field('expire');
    if (expireEntry !== undefined && !this.isNull(expireEntry.node)) {
      expiresS = this.integer(expireEntry, params.endpointMinExpiresS, params.endpointMaxExpiresS, 's',
        ' (SS_ENDPOINT_MIN_EXPIRE..SS_ENDPOINT_MAX_EXPIRE)') ?? null;
    }

    let account = '';
    const accountEntry = field('account');
    if (accountEntry !== undefined && !this.isNull(accountEntry.node)) account = this.text(accountEntry) ?? '';

    const user = number ?? '';
    return {
      number: user,
      account,
      authMode,
      ha1: {
        md5: password !== undefined ? digestHex('md5', `${user}:${realm}:${password}`) : ha1 ?? null,
        sha256: password !== undefined ? digestHex('sha256', `${user}:${realm}:${password}`) : ha1Sha256 ?? null,
      },
      allow,
      expiresS,
    };
  }

  private accountNumber(numberEntry: Entry | undefined, item: Entry, numbers: Map<string, Entry>): string | undefined {
    let number: string | undefined;
    if (numberEntry === undefined || this.isNull(numberEntry.node)) {
      this.report(numberEntry?.node ?? item.node, `${item.path}.number`, 'ERR_CONFIG_REQUIRED', 'every account needs a number (its SIP user and digest username)');
    } else {
      number = this.sipUser(numberEntry);
      if (number !== undefined) {
        const first = numbers.get(number);
        if (first !== undefined) {
          this.report(numberEntry.node, numberEntry.path, 'ERR_CONFIG_DUPLICATE',
            `duplicate account number ${quote(number)} (first at line ${this.position(first.node).line})`);
        } else {
          numbers.set(number, numberEntry);
        }
      }
    }
    return number;
  }

  /** password, ha1, ha1_sha256: at most one way to give each secret, and one at all when the mode needs it. */
  private accountSecrets(field: (key: string) => Entry | undefined, item: Entry, authMode: AuthMode, params: Params):
    { password: string | undefined; ha1: string | undefined; ha1Sha256: string | undefined } {
    const passwordEntry = field('password');
    let password: string | undefined;
    if (passwordEntry !== undefined && !this.isNull(passwordEntry.node)) {
      password = this.text(passwordEntry, true);
      if (password === '') password = undefined;
    }
    const ha1 = this.hex(field('ha1'), 32, 'MD5 of number:realm:password');
    const ha1Sha256 = this.hex(field('ha1_sha256'), 64, 'SHA-256 of number:realm:password');
    if (password !== undefined && ha1 !== undefined) {
      this.report(field('ha1')?.node, `${item.path}.ha1`, 'ERR_CONFIG_CONFLICT', 'give password or ha1, not both');
    }
    if (password !== undefined && ha1Sha256 !== undefined) {
      this.report(field('ha1_sha256')?.node, `${item.path}.ha1_sha256`, 'ERR_CONFIG_CONFLICT', 'give password or ha1_sha256, not both');
    }
    const hasSecret = password !== undefined || ha1 !== undefined;
    const secretGiven = hasSecret || [passwordEntry, field('ha1')].some((e) => e !== undefined && !this.isNull(e.node) && this.nonEmptyScalar(e.node));
    if ((authMode === 'password' || authMode === 'ip_password') && !secretGiven) {
      this.report(passwordEntry?.node ?? item.node, `${item.path}.password`, 'ERR_CONFIG_REQUIRED', `auth_mode ${authMode} needs a password (or ha1)`);
    }
    // An account reachable only with SHA-256 must have a SHA-256 HA1.
    if (!params.authAlgorithms.includes('MD5') && ha1 !== undefined && ha1Sha256 === undefined && password === undefined) {
      this.report(field('ha1')?.node, `${item.path}.ha1`, 'ERR_CONFIG_RELATION',
        'SS_AUTH_ALGORITHMS offers SHA-256 only and this account has only an MD5 ha1; give password or ha1_sha256');
    }
    return { password, ha1, ha1Sha256 };
  }

  private accountAllow(allowEntry: Entry | undefined, item: Entry, authMode: AuthMode): AllowEntry[] {
    const allow: AllowEntry[] = [];
    if (allowEntry !== undefined) {
      const items = this.sequence(allowEntry, true) ?? [];
      for (const a of items) {
        const text = this.text(a);
        if (text === undefined) continue;
        const parsed = parseAllowEntry(text.trim());
        if (parsed.value === null) { this.report(a.node, a.path, 'ERR_CONFIG_CIDR', parsed.error); continue; }
        if (authMode === 'ip_port' && parsed.value.port === null) {
          this.report(a.node, a.path, 'ERR_CONFIG_REQUIRED', `auth_mode ip_port needs a port on each entry, like 203.0.113.7:5062. Received ${quote(text)}`);
          continue;
        }
        allow.push(parsed.value);
      }
    }
    if (authMode !== 'password' && (allowEntry === undefined || this.sequenceLength(allowEntry) === 0)) {
      this.report(allowEntry?.node ?? item.node, `${item.path}.allow`, 'ERR_CONFIG_REQUIRED',
        `auth_mode ${authMode} needs a non-empty allow list (the source addresses it trusts)`);
    }

    return allow;
  }

  private nonEmptyScalar(node: unknown): boolean {
    const n = this.resolveAlias(node);
    return isScalar(n) && n.value !== '' && n.value !== null;
  }

  private sequenceLength(entry: Entry): number {
    const n = this.resolveAlias(entry.node);
    if (isSeq(n)) return n.items.length;
    if (isScalar(n) && typeof n.value === 'string' && n.value !== '') return 1;
    return 0;
  }

  /** Lower-case hex of `digits` length; the message names the length seen, never the value. */
  private hex(entry: Entry | undefined, digits: number, what: string): string | undefined {
    if (entry === undefined || this.isNull(entry.node)) return undefined;
    const text = this.text(entry, true);
    if (text === undefined) return undefined;
    const trimmed = text.trim();
    if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(trimmed)) {
      const seen = /^[0-9a-fA-F]*$/.test(trimmed) ? `${trimmed.length} hex digits` : `${trimmed.length} characters, not all hex`;
      this.report(entry.node, entry.path, 'ERR_CONFIG_HA1', `must be ${digits} hex digits (the ${what}). Received ${seen}`);
      return undefined;
    }
    return trimmed.toLowerCase();
  }

  /** A SIP user part: the number of an account, the username of a trunk. */
  private sipUser(entry: Entry): string | undefined {
    const text = this.text(entry);
    if (text === undefined) return undefined;
    if (text === '') {
      this.report(entry.node, entry.path, 'ERR_CONFIG_REQUIRED', 'must not be empty');
      return undefined;
    }
    if (text.includes('@')) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_SIP_USER', `must be the user part only, without @domain. Received ${quote(text)}`);
      return undefined;
    }
    if (!SIP_USER.test(text) || text.length > SIP_USER_LENGTH_MAX) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_SIP_USER',
        `must be a SIP user of at most ${SIP_USER_LENGTH_MAX} letters, digits and -_.!~*'()&=+$,;?/ (no spaces, @ or :). Received ${quote(text)}`);
      return undefined;
    }
    return text;
  }

  /** A name: non-empty, printable, at most NAME_LENGTH_MAX characters. */
  private name(entry: Entry | undefined, itemNode: unknown, path: string, what: string): string | undefined {
    if (entry === undefined || this.isNull(entry.node)) {
      this.report(entry?.node ?? itemNode, `${path}.name`, 'ERR_CONFIG_REQUIRED', `every ${what} needs a name`);
      return undefined;
    }
    const text = this.text(entry);
    if (text === undefined) return undefined;
    if (text.trim() === '') { this.report(entry.node, entry.path, 'ERR_CONFIG_REQUIRED', 'must not be empty'); return undefined; }
    if (text.length > NAME_LENGTH_MAX || /[\x00-\x1f\x7f]/.test(text)) {
      this.report(entry.node, entry.path, 'ERR_CONFIG_TYPE', `must be at most ${NAME_LENGTH_MAX} printable characters. Received ${quote(text)}`);
      return undefined;
    }
    return text;
  }

  private readTrunks(entry: Entry | undefined): Trunk[] {
    if (entry === undefined) return [];
    const items = this.sequence(entry);
    if (items === null) return [];
    const out: Trunk[] = [];
    const names = new Map<string, Entry>();
    for (const item of items) {
      const trunk = this.readTrunk(item, names);
      if (trunk !== null) out.push(trunk);
    }
    return out;
  }

  /** One `trunks:` item; `names` holds the names seen so far, for the duplicate check. */
  private readTrunk(item: Entry, names: Map<string, Entry>): Trunk | null {
    const map = this.mapping(item.node, item.path, trunkKeys);
    if (map === null) return null;
    const field = (key: string): Entry | undefined => map.get(key);
    const uaExpire = paramSpecByName.get('SS_SIP_USER_AGENT_EXPIRE');

    const nameEntry = field('name');
    const name = this.name(nameEntry, item.node, item.path, 'trunk');
    if (name !== undefined && nameEntry !== undefined) {
      const first = names.get(name);
      if (first !== undefined) {
        this.report(nameEntry.node, nameEntry.path, 'ERR_CONFIG_DUPLICATE', `duplicate trunk name ${quote(name)} (first at line ${this.position(first.node).line})`);
      } else {
        names.set(name, nameEntry);
      }
    }

    const { registrar, port, proxy, domain } = this.trunkAddresses(field, item);

    let username = '';
    const usernameEntry = field('username');
    if (usernameEntry === undefined || this.isNull(usernameEntry.node)) {
      this.report(usernameEntry?.node ?? item.node, `${item.path}.username`, 'ERR_CONFIG_REQUIRED', 'every trunk needs a username (the user in From/To)');
    } else {
      username = this.sipUser(usernameEntry) ?? '';
    }

    let authUser = username;
    const authUserEntry = field('auth_user');
    if (authUserEntry !== undefined && !this.isNull(authUserEntry.node)) {
      const text = this.text(authUserEntry);
      if (text !== undefined && text !== '') {
        // The digest username is a quoted-string (RFC 2617 §3.2.2); keep it printable and unquoted.
        if (/["\\\x00-\x1f\x7f]/.test(text)) this.report(authUserEntry.node, authUserEntry.path, 'ERR_CONFIG_TYPE', `must not contain quotes, backslashes or control characters. Received ${quote(text)}`);
        else authUser = text;
      }
    }

    let password = '';
    const passwordEntry = field('password');
    if (passwordEntry !== undefined && !this.isNull(passwordEntry.node)) password = this.text(passwordEntry, true) ?? '';

    let expiresS: Trunk['expiresS'] = null;
    const expireEntry = field('expire');
    if (expireEntry !== undefined && !this.isNull(expireEntry.node) && uaExpire !== undefined) {
      const value = this.paramValue(uaExpire, expireEntry);
      if (value === 'auto' || typeof value === 'number') expiresS = value;
    }

    let enabled = true;
    const enabledEntry = field('enabled');
    if (enabledEntry !== undefined) enabled = this.onOff(enabledEntry) ?? true;

    // Off by default: an answer without qop has no cnonce or nonce-count, so a captured one replays.
    let allowMd5WithoutQop = false;
    const noQopEntry = field('allow_md5_without_qop');
    if (noQopEntry !== undefined) allowMd5WithoutQop = this.onOff(noQopEntry) ?? false;

    return { name: name ?? '', registrar, port, proxy, username, authUser, password, expiresS, enabled, domain, allowMd5WithoutQop };
  }

  /** Where a trunk registers: registrar (required), port, proxy, domain (the registrar's by default). */
  private trunkAddresses(field: (key: string) => Entry | undefined, item: Entry):
    { registrar: string; port: number | null; proxy: Trunk['proxy']; domain: string } {
    let registrar = '';
    const registrarEntry = field('registrar');
    if (registrarEntry === undefined || this.isNull(registrarEntry.node)) {
      this.report(registrarEntry?.node ?? item.node, `${item.path}.registrar`, 'ERR_CONFIG_REQUIRED', 'every trunk needs a registrar (host name or IP address)');
    } else {
      const text = this.text(registrarEntry);
      if (text !== undefined) {
        const parsed = parseHost(text.trim());
        if (parsed.value === null) this.report(registrarEntry.node, registrarEntry.path, 'ERR_CONFIG_HOST', parsed.error);
        else registrar = parsed.value;
      }
    }

    let port: number | null = null;
    const portEntry = field('port');
    if (portEntry !== undefined && !this.isNull(portEntry.node)) port = this.integer(portEntry, 1, 65535, '') ?? null;

    let proxy: Trunk['proxy'] = null;
    const proxyEntry = field('proxy');
    if (proxyEntry !== undefined && !this.isNull(proxyEntry.node)) {
      const text = this.text(proxyEntry);
      if (text !== undefined && text.trim() !== '') {
        const parsed = parseHostPort(text.trim());
        if (parsed.value === null) this.report(proxyEntry.node, proxyEntry.path, 'ERR_CONFIG_ADDRESS', parsed.error);
        else proxy = parsed.value;
      }
    }

    let domain = registrar;
    const domainEntry = field('domain');
    if (domainEntry !== undefined && !this.isNull(domainEntry.node)) {
      const text = this.text(domainEntry);
      if (text !== undefined && text.trim() !== '') {
        const parsed = parseHost(text.trim());
        if (parsed.value === null) this.report(domainEntry.node, domainEntry.path, 'ERR_CONFIG_HOST', parsed.error);
        else domain = parsed.value;
      }
    }

    return { registrar, port, proxy, domain };
  }

  private readAreas(entry: Entry | undefined): Area[] {
    if (entry === undefined) return [];
    const items = this.sequence(entry);
    if (items === null) return [];
    const out: Area[] = [];
    const names = new Map<string, Entry>();
    for (const item of items) {
      const map = this.mapping(item.node, item.path, areaKeys);
      if (map === null) continue;
      const nameEntry = map.get('name');
      const name = this.name(nameEntry, item.node, item.path, 'area');
      if (name !== undefined && nameEntry !== undefined) {
        const first = names.get(name);
        if (first !== undefined) {
          this.report(nameEntry.node, nameEntry.path, 'ERR_CONFIG_DUPLICATE', `duplicate area name ${quote(name)} (first at line ${this.position(first.node).line})`);
        } else {
          names.set(name, nameEntry);
        }
      }
      const prefixesEntry = map.get('prefixes');
      let prefixes: Cidr[] = [];
      if (prefixesEntry === undefined || this.sequenceLength(prefixesEntry) === 0) {
        this.report(prefixesEntry?.node ?? item.node, `${item.path}.prefixes`, 'ERR_CONFIG_REQUIRED', 'every area needs at least one prefix, like 203.0.113.0/24');
      } else {
        prefixes = this.parsedList(prefixesEntry, 'ERR_CONFIG_CIDR', parseCidr) ?? [];
      }
      out.push({ name: name ?? '', prefixes });
    }
    return out;
  }

  // ---- syntax error context and secrets ----

  /** The key path a tab-indented line was meant to have: its key, as a sibling of the key on the line
   *  above, or as its child when that line opens a section (`sip:`). Null when the line has no key. */
  private tabbedKeyPath(offset: number): string | null {
    const lines = this.source.split('\n');
    const keyOf = (text: string): RegExpExecArray | null => /^[ \t]*(-[ \t]+)?["']?([A-Za-z0-9_.-]+)["']?[ \t]*:(.*)$/.exec(text);
    const at = this.lineCounter.linePos(offset).line;
    const own = keyOf(lines[at - 1] ?? '');
    if (own === null) return null;
    let above = at - 1;
    while (above >= 1 && /^\s*(#.*)?$/.test(lines[above - 1]!)) above--;
    const prev = above >= 1 ? keyOf(lines[above - 1]!) : null;
    if (prev === null) return own[2]!;
    const prevStart = this.lineCounter.lineStarts[above - 1]! + lines[above - 1]!.indexOf(prev[2]!);
    const prevPath = this.pathAt(prevStart).path;
    if (prevPath === 'yaml') return own[2]!;
    const opensSection = /^\s*(#.*)?\r?$/.test(prev[3]!);
    const parent = opensSection ? prevPath : prevPath.replace(/(\.[^.[\]]+|\[\d+\])$/, '');
    return parent === prevPath && !opensSection ? own[2]! : `${parent === '' ? '' : `${parent}.`}${own[2]!}`;
  }

  /** The offset of the first non-blank character of a 1-based line. */
  private lineContentStart(line: number): number {
    let offset = this.lineCounter.lineStarts[line - 1] ?? 0;
    while (this.source[offset] === ' ' || this.source[offset] === '\t') offset++;
    return offset;
  }

  /** The key path of the deepest node containing `offset`, to name a YAML syntax error's key, and the
   *  start of the deepest scalar value there. Only keys that look like keys are followed: the parser's
   *  recovery can make a key of `3600 SS_ENDPOINT_NAT_EXPIRE`, which would only confuse. */
  private pathAt(offset: number): { path: string; start: number | null } {
    let path = '';
    let start: number | null = null;
    let node: unknown = this.doc.contents;
    const rangeOf = (n: unknown): readonly number[] | undefined => (n as { range?: readonly number[] } | null | undefined)?.range;
    for (let depth = 0; depth < 32; depth++) {
      const n = this.resolveAlias(node);
      let next: { node: unknown; path: string } | null = null;
      if (isMap(n)) {
        for (const pair of n.items) {
          const keyRange = rangeOf(pair.key);
          const valueRange = rangeOf(pair.value);
          const from = keyRange?.[0] ?? valueRange?.[0];
          const to = valueRange?.[2] ?? keyRange?.[2];
          if (from === undefined || to === undefined || offset < from || offset > to) continue;
          const key = isScalar(pair.key) ? String(pair.key.value) : '';
          if (!/^[A-Za-z0-9_.-]+$/.test(key)) continue;
          next = { node: pair.value, path: path === '' ? key : `${path}.${key}` };
        }
      } else if (isSeq(n)) {
        n.items.forEach((item, i) => {
          const range = rangeOf(item);
          if (range !== undefined && offset >= range[0]! && offset <= range[2]!) next = { node: item, path: `${path}[${i}]` };
        });
      } else if (isScalar(n)) {
        start = rangeOf(n)?.[0] ?? null;
      }
      if (next === null) break;
      ({ node, path } = next);
    }
    return { path: path === '' ? 'yaml' : path, start };
  }

  /** Every value under a secret-looking key, from the parsed tree and from the raw lines (the tree of a
   *  broken file may have lost some). */
  private collectSecrets(): string[] {
    const secrets = new Set<string>();
    const line = /^\s*(?:-\s+)?["']?([A-Za-z0-9_-]+)["']?\s*:\s*(.*?)\s*$/;
    for (const raw of this.source.split(/\r?\n/)) {
      const m = line.exec(raw);
      if (m === null || !SECRET_KEY.test(m[1]!)) continue;
      const value = m[2]!.replace(/\s+#.*$/, '');
      secrets.add(value);
      secrets.add(value.replace(/^["']/, '').replace(/["']$/, ''));
    }
    const walk = (node: unknown, depth: number): void => {
      if (depth > 64) return;
      if (isMap(node)) {
        for (const pair of node.items) {
          const key = isScalar(pair.key) ? String(pair.key.value) : '';
          if (SECRET_KEY.test(key) && isScalar(pair.value) && pair.value.value !== null) {
            secrets.add(String(pair.value.value));
            if (pair.value.source !== undefined) secrets.add(pair.value.source);
          }
          walk(pair.value, depth + 1);
        }
      } else if (isSeq(node)) {
        for (const item of node.items) walk(item, depth + 1);
      }
    };
    walk(this.doc.contents, 0);
    // Short values are left alone: a 1-2 character "secret" would blank out line numbers and words.
    return [...secrets].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  }
}

function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) out = out.split(secret).join('***');
  return out;
}

function digestHex(algorithm: 'md5' | 'sha256', input: string): string {
  return createHash(algorithm).update(input, 'utf8').digest('hex');
}

function canonicalAddress(host: string): string {
  const cidr = parseCidr(host).value;
  return cidr === null ? host.toLowerCase() : Buffer.from(cidr.bytes).toString('hex');
}

/** `; did you mean "accounts"?` for a key within edit distance 2 (or differing only in case), or the
 *  list of keys when it is short. */
export function suggestion(key: string, known: readonly string[]): string {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const distance = candidate.toLowerCase() === key.toLowerCase() ? 0 : editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) { best = candidate; bestDistance = distance; }
  }
  const limit = Math.max(2, Math.floor(key.length / 4));
  if (best !== null && bestDistance <= limit) return `; did you mean ${best}?`;
  if (known.length <= 10) return `; expected one of ${known.join(', ')}`;
  return '; see the parameter table in README (or etc/sipreg.yaml)';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost));
    }
    previous = current;
  }
  return previous[b.length]!;
}
