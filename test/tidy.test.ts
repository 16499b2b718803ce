// The house rules, checked over the sources (TigerBeetle's tidy.zig is the model): what every file in src/
// must hold so that a reader finds each concern on its floor. Each rule is a function over a map of
// {path: source text}, so the tests below plant one violation of each rule in a small in-memory tree and see
// it caught, then run the rules over the real src/ and expect no problem at all.
//
// The rules:
//   circle     no import circle among the modules of src/ (value and type imports alike: a type imported
//              upwards is the same wrong floor as a value).
//   sip        src/sip/ imports only src/sip/, src/limits.ts and src/assert.ts (and node: built-ins): the wire
//              layer stands on nothing of the service.
//   console    nothing outside src/console/ imports src/console/; what the console and the admin commands
//              share lives in src/ops/. The one exception: src/cli/commands/console.ts starts the console
//              through src/console/index.ts.
//   floor      src/net/ imports only src/net/, src/limits.ts and src/assert.ts; only src/service/, src/cli/ and
//              src/main.ts import src/service/ (the parts the service runs get their types from
//              src/component.ts and src/sip/endpoint.ts, below them).
//   assert     nothing in src/ imports node:assert (or assert, node:assert/strict): every assertion is
//              src/assert.ts's, two arguments, the message a string literal (a template would be built
//              on every call): nothing is allocated when it holds.
//   length     no function in src/ over FUNCTION_LINES_MAX lines, counted from its first line to its closing
//              brace (inner functions count toward the outer one: a factory of closures is one function).
//              Exceptions: LONG_FUNCTIONS below, each with the length it may not grow past. They are
//              factories whose closures share mutable state; splitting them means turning them into
//              classes (or state plus module functions), which is its own change. An exception that is
//              no longer needed (the function split, renamed or shorter) fails the test too, so the list
//              only shrinks.
// The scanner is the TypeScript parser (a devDependency already): imports are the module specifiers of
// import/export declarations and of import() calls, and functions are the nodes TypeScript calls
// function-like that have a body. Only relative specifiers name project modules.
import { test } from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const FUNCTION_LINES_MAX = 100;
const CONSOLE_ENTRY_IMPORTERS: ReadonlyMap<string, string> = new Map([
  ['src/cli/commands/console.ts', 'src/console/index.ts'],
]);
const SIP_MAY_IMPORT = ['src/limits.ts', 'src/assert.ts'];
const NET_MAY_IMPORT = ['src/limits.ts', 'src/assert.ts'];
/** node's assertion modules, in every spelling: src/ asserts through src/assert.ts only. */
const NODE_ASSERT = /^(node:)?assert(\/strict)?$/;
const SERVICE_IMPORTERS = ['src/service/', 'src/cli/', 'src/main.ts'];
/** "path:name" → the most lines it may have (today's length). */
const LONG_FUNCTIONS: ReadonlyMap<string, number> = new Map([
]);

type Sources = ReadonlyMap<string, string>; // path relative to the repository, '/'-separated → text
type Problem = { rule: 'circle' | 'sip' | 'console' | 'floor' | 'assert' | 'length'; path: string; detail: string };

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function readSources(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) {
        files.set(relative(root, p).split('\\').join('/'), readFileSync(p, 'utf8'));
      }
    }
  };
  walk(dir);
  return files;
}

const parsed = new Map<string, ts.SourceFile>();
function sourceFile(path: string, text: string): ts.SourceFile {
  const key = `${path}\0${text}`;
  let sf = parsed.get(key);
  if (sf === undefined) {
    sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    parsed.set(key, sf);
  }
  return sf;
}

/** Every module specifier a file names: import/export declarations and import() calls. */
function specifiersOf(path: string, sources: Sources): string[] {
  const sf = sourceFile(path, sources.get(path) ?? '');
  const specifiers: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier !== undefined
      && ts.isStringLiteral(node.moduleSpecifier)) {
      specifiers.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg !== undefined && ts.isStringLiteral(arg)) specifiers.push(arg.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return specifiers;
}

/** The project modules a file imports: relative specifiers resolved to the .ts path in `sources`. */
function importsOf(path: string, sources: Sources): string[] {
  const out: string[] = [];
  for (const s of specifiersOf(path, sources)) {
    if (!s.startsWith('.')) continue;
    const base = posix.normalize(posix.join(posix.dirname(path), s)).replace(/\.js$/, '');
    for (const candidate of [`${base}.ts`, `${base}/index.ts`]) {
      if (sources.has(candidate)) { out.push(candidate); break; }
    }
  }
  return out;
}

function circles(sources: Sources): Problem[] {
  // Tarjan's strongly connected components; each component of more than one module (or a module importing
  // itself) is a circle, reported once with one cycle through it.
  const graph = new Map<string, string[]>();
  for (const path of sources.keys()) graph.set(path, importsOf(path, sources));
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const problems: Problem[] = [];
  const strong = (v: string): void => {
    index.set(v, next); low.set(v, next); next++;
    stack.push(v); onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) { strong(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (;;) { const w = stack.pop()!; onStack.delete(w); component.push(w); if (w === v) break; }
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) {
      problems.push({ rule: 'circle', path: v, detail: cycleThrough(v, new Set(component), graph).join(' → ') });
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) strong(v);
  return problems;
}

function cycleThrough(start: string, within: Set<string>, graph: Map<string, string[]>): string[] {
  // Breadth-first from start back to start inside its component: the shortest circle, for the message.
  const from = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!within.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = from.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!from.has(w)) { from.set(w, v); queue.push(w); }
    }
  }
  return [start, start];
}

function sipLayer(sources: Sources): Problem[] {
  const problems: Problem[] = [];
  for (const path of sources.keys()) {
    if (!path.startsWith('src/sip/')) continue;
    for (const target of importsOf(path, sources)) {
      if (target.startsWith('src/sip/') || SIP_MAY_IMPORT.includes(target)) continue;
      problems.push({ rule: 'sip', path, detail: `imports ${target}` });
    }
  }
  return problems;
}

function consoleLayer(sources: Sources): Problem[] {
  const problems: Problem[] = [];
  for (const path of sources.keys()) {
    if (path.startsWith('src/console/')) continue;
    for (const target of importsOf(path, sources)) {
      if (!target.startsWith('src/console/')) continue;
      if (CONSOLE_ENTRY_IMPORTERS.get(path) === target) continue;
      problems.push({ rule: 'console', path, detail: `imports ${target}` });
    }
  }
  return problems;
}

function floors(sources: Sources): Problem[] {
  const problems: Problem[] = [];
  for (const path of sources.keys()) {
    for (const target of importsOf(path, sources)) {
      if (path.startsWith('src/net/') && !target.startsWith('src/net/') && !NET_MAY_IMPORT.includes(target)) {
        problems.push({ rule: 'floor', path, detail: `imports ${target}` });
      }
      if (target.startsWith('src/service/') && !SERVICE_IMPORTERS.some((p) => path.startsWith(p))) {
        problems.push({ rule: 'floor', path, detail: `imports ${target}` });
      }
    }
  }
  return problems;
}

function assertions(sources: Sources): Problem[] {
  const problems: Problem[] = [];
  for (const [path, text] of sources) {
    for (const s of specifiersOf(path, sources)) {
      if (NODE_ASSERT.test(s)) problems.push({ rule: 'assert', path, detail: `imports ${s}: use src/assert.ts` });
    }
    // The message is a literal: a template or a call would be built on every call, holding or not.
    const sf = sourceFile(path, text);
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'assert') {
        const message = node.arguments[1];
        if (message !== undefined && !ts.isStringLiteral(message) && !ts.isNoSubstitutionTemplateLiteral(message)) {
          const line = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1;
          problems.push({ rule: 'assert', path: `${path}:${line}`, detail: 'assert message is not a string literal' });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return problems;
}

function functionName(node: ts.SignatureDeclaration, sf: ts.SourceFile): string {
  if (node.name !== undefined) return node.name.getText(sf);
  const parent = node.parent;
  if (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) || ts.isPropertyDeclaration(parent)) {
    return parent.name.getText(sf);
  }
  return '(anonymous)';
}

function longFunctions(sources: Sources, exceptions: ReadonlyMap<string, number>): Problem[] {
  const problems: Problem[] = [];
  const used = new Set<string>();
  for (const [path, text] of sources) {
    const sf = sourceFile(path, text);
    const visit = (node: ts.Node): void => {
      if (ts.isFunctionLike(node) && 'body' in node && node.body !== undefined) {
        const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
        const lines = last - first + 1;
        const name = functionName(node, sf);
        const allowed = exceptions.get(`${path}:${name}`);
        if (allowed !== undefined && lines > FUNCTION_LINES_MAX) used.add(`${path}:${name}`);
        if (lines > (allowed ?? FUNCTION_LINES_MAX)) {
          problems.push({
            rule: 'length', path: `${path}:${first + 1}`,
            detail: `${name} is ${lines} lines (max ${allowed ?? FUNCTION_LINES_MAX})`,
          });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  for (const key of exceptions.keys()) {
    const path = key.slice(0, key.lastIndexOf(':'));
    if (sources.has(path) && !used.has(key)) {
      problems.push({ rule: 'length', path, detail: `${key} is listed as too long but is not: remove the exception` });
    }
  }
  return problems;
}

function tidy(sources: Sources, exceptions: ReadonlyMap<string, number> = new Map()): Problem[] {
  return [...circles(sources), ...sipLayer(sources), ...consoleLayer(sources), ...floors(sources),
    ...assertions(sources), ...longFunctions(sources, exceptions)];
}

const lines = (n: number): string => Array.from({ length: n }, (_, i) => `  const v${i} = ${i};`).join('\n');

test('each rule catches a planted violation', async (t) => {
  const clean = new Map([
    ['src/limits.ts', 'export const limits = {};\n'],
    ['src/sip/parse.ts', "import { limits } from '../limits.js';\nimport { x } from './scan.js';\nexport const p = [limits, x];\n"],
    ['src/sip/scan.ts', "import { randomBytes } from 'node:crypto';\nexport const x = randomBytes;\n"],
    ['src/ops/format.ts', 'export const f = 1;\n'],
    ['src/console/index.ts', "import { f } from '../ops/format.js';\nexport const run = f;\n"],
    ['src/cli/commands/console.ts', "import { run } from '../../console/index.js';\nexport const c = run;\n"],
    ['src/store/a.ts', `export function short(): void {\n${lines(FUNCTION_LINES_MAX - 2)}\n}\n`],
  ]);
  t.same(tidy(clean), [], 'the clean tree passes');

  const plant = (path: string, text: string): Map<string, string> => new Map([...clean, [path, text]]);

  const circle = tidy(plant('src/store/b.ts', "import { c } from './c.js';\nexport const b = c;\n")
    .set('src/store/c.ts', "import type { B } from './b.js';\nexport const c: B | 1 = 1;\n"));
  t.same(circle.map((p) => [p.rule, p.detail]), [['circle', 'src/store/b.ts → src/store/c.ts → src/store/b.ts']],
    'a circle through a type-only import');
  t.same(tidy(plant('src/store/d.ts', "export const d = () => import('./d.js');\n")).map((p) => p.rule), ['circle'],
    'a module importing itself through import()');

  t.same(tidy(plant('src/sip/write.ts', "import { f } from '../ops/format.js';\nexport const w = f;\n"))
    .map((p) => [p.rule, p.path, p.detail]), [['sip', 'src/sip/write.ts', 'imports src/ops/format.ts']],
  'sip/ importing anything but limits');

  t.same(tidy(plant('src/cli/commands/list.ts', "import { run } from '../../console/index.js';\nexport const l = run;\n"))
    .map((p) => [p.rule, p.path]), [['console', 'src/cli/commands/list.ts']], 'console/ imported from outside');
  t.same(tidy(plant('src/console/app.ts', 'export const a = 1;\n')
    .set('src/cli/commands/console.ts', "import { a } from '../../console/app.js';\nexport const c = a;\n"))
    .map((p) => p.rule), ['console'], 'the console entry exception names one module, not the folder');

  const long = (name: string, text: string): Problem[] => tidy(plant('src/store/long.ts', text))
    .filter((p) => p.rule === 'length' && p.detail.startsWith(`${name} `));
  t.equal(long('f', `export function f(): void {\n${lines(FUNCTION_LINES_MAX - 1)}\n}\n`).length, 1, 'a function declaration');
  t.equal(long('g', `export const g = (): void => {\n${lines(FUNCTION_LINES_MAX - 1)}\n};\n`).length, 1, 'an arrow function');
  t.equal(long('m', `export class K {\n  m(): void {\n${lines(FUNCTION_LINES_MAX - 1)}\n  }\n}\n`).length, 1, 'a method');
  t.same(long('outer', `export function outer(): () => void {\n  return function inner(): void {\n${lines(FUNCTION_LINES_MAX - 3)}\n  };\n}\n`)
    .map((p) => p.detail), [`outer is ${FUNCTION_LINES_MAX + 1} lines (max ${FUNCTION_LINES_MAX})`],
  'a factory counts its closures');
  t.same(long('s', 'export const s = "function s() {\\n\\n\\n}";\n'), [], 'text in strings is not a function');

  const longText = `export function f(): void {\n${lines(FUNCTION_LINES_MAX - 1)}\n}\n`;
  t.same(tidy(plant('src/store/long.ts', longText), new Map([['src/store/long.ts:f', FUNCTION_LINES_MAX + 1]])), [],
    'an exception allows its function up to its length');
  t.same(tidy(plant('src/store/long.ts', longText), new Map([['src/store/long.ts:f', FUNCTION_LINES_MAX]]))
    .map((p) => p.detail), [`f is ${FUNCTION_LINES_MAX + 1} lines (max ${FUNCTION_LINES_MAX})`], 'but not past it');
  t.same(tidy(clean, new Map([['src/store/a.ts:short', 200]])).map((p) => p.rule), ['length'],
    'an exception no longer needed is a problem');

  t.same(tidy(plant('src/sip/scan.ts', "import { assert } from '../assert.js';\nexport const x = assert;\n")
    .set('src/assert.ts', 'export function assert(c: boolean, m: string): asserts c { if (!c) throw new Error(m); }\n')), [],
  'sip/ may import the assertion helper');
  for (const spelling of ['node:assert', 'assert', 'node:assert/strict', 'assert/strict']) {
    t.same(tidy(plant('src/store/check.ts', `import assert from '${spelling}';\nexport const a = assert;\n`))
      .map((p) => [p.rule, p.path, p.detail]), [['assert', 'src/store/check.ts', `imports ${spelling}: use src/assert.ts`]],
    `an import of ${spelling}`);
  }
  t.same(tidy(plant('src/store/check.ts', "export const a = async () => (await import('node:assert')).default;\n"))
    .map((p) => p.rule), ['assert'], 'node:assert through import()');
  t.same(tidy(plant('src/store/check.ts', "import { assert } from '../assert.js';\nexport function f(n: number): void {\n  assert(n > 0, 'n > 0');\n  assert(n < 9, `n ${n} < 9`);\n}\n"))
    .map((p) => [p.rule, p.path]), [['assert', 'src/store/check.ts:4']], 'an assert message built on every call');

  t.same(tidy(plant('src/net/cidr.ts', "import type { Config } from '../config/types.js';\nexport type C = Config;\n")
    .set('src/config/types.ts', 'export interface Config { a: 1 }\n')).map((p) => [p.rule, p.detail]),
  [['floor', 'imports src/config/types.ts']], 'net/ importing upwards');
  t.same(tidy(plant('src/registrar/sweep.ts', "import type { C } from '../service/component.js';\nexport type S = C;\n")
    .set('src/service/component.ts', 'export interface C { a: 1 }\n')
    .set('src/cli/run.ts', "import type { C } from '../service/component.js';\nexport type R = C;\n"))
    .map((p) => [p.rule, p.path]), [['floor', 'src/registrar/sweep.ts']], 'a part of the service importing service/');
});

test('src/ holds the house rules', async (t) => {
  const problems = tidy(readSources(join(root, 'src')), LONG_FUNCTIONS);
  t.same(problems.map((p) => `${p.rule}: ${p.path}: ${p.detail}`), [], 'no problem');
});
