// The admin commands' error codes (src/cli/errors.ts): what a script sees from the real binary for each
// kind of failure (the code on stderr, the exit status; with --json the code in a JSON object and nothing
// on stdout), and that the registry, the code and docs/operations.md agree: every code registered is used,
// every code used is registered, and the docs' table lists each with its exit status.
import t from 'tap';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot, runSipreg, tmpDir, writeConfig } from '../helpers/sipreg.js';
import { cliErrors } from '../../src/cli/errors.js';

const CONFIG = `
sip:
  listen: ["127.0.0.1:5060"]
  realm: "test"
data_dir: "@DATA@"
accounts:
  - { number: "1001", password: "secret-1001" }
`;

/** The first line of stderr split into who, code and message; the exit status. */
function failure(args: string[]): { status: number | null; who: string; code: string; message: string; stderr: string; stdout: string } {
  const r = runSipreg(args);
  const m = /^(sipreg(?: [a-z-]+)?): (ERR_[A-Z_]+): (.*)$/m.exec(r.stderr.split('\n')[0] ?? '');
  return { status: r.status, who: m?.[1] ?? '', code: m?.[2] ?? '', message: m?.[3] ?? '', stderr: r.stderr, stdout: r.stdout };
}

const file = writeConfig(CONFIG); // its data_dir does not exist: the service never ran there
const c = ['-c', file];

t.test('usage errors: the code, exit 2, the usage after the line', async (t) => {
  const cases: [string[], string, string][] = [
    [['frobnicate'], 'sipreg', 'ERR_CLI_UNKNOWN_COMMAND'],
    [['list', '--frob', ...c], 'sipreg list', 'ERR_CLI_UNKNOWN_OPTION'],
    [['events', '--limit', 'many', ...c], 'sipreg events', 'ERR_CLI_OPTION_VALUE'],
    [['list', '--json', '--csv', ...c], 'sipreg list', 'ERR_CLI_OPTION_CONFLICT'],
    [['show', ...c], 'sipreg show', 'ERR_CLI_ARGUMENT'],
    [['show', '1001', '1002', ...c], 'sipreg show', 'ERR_CLI_ARGUMENT'],
    [['config', 'frob', ...c], 'sipreg config', 'ERR_CLI_UNKNOWN_COMMAND'],
  ];
  for (const [args, who, code] of cases) {
    const r = failure(args);
    t.equal(r.status, 2, `${args.join(' ')}: exit 2`);
    t.equal(`${r.who}: ${r.code}`, `${who}: ${code}`, `${args.join(' ')}: ${code}`);
    t.match(r.stderr, /\nusage: sipreg /, 'then the usage');
    t.equal(r.stdout, '', 'nothing on stdout');
  }
});

t.test('operating errors: the code and exit 1 (missing store, missing or unreadable config)', async (t) => {
  const noStore = failure(['list', ...c]);
  t.same([noStore.status, noStore.who, noStore.code], [1, 'sipreg list', 'ERR_CLI_NO_STORE']);
  t.equal(noStore.stderr, `${noStore.who}: ${noStore.code}: ${noStore.message}\n`, 'one line');
  t.match(noStore.message, /^no store at /);

  const gone = join(tmpDir(), 'gone.yaml');
  const noConfig = failure(['stats', '-c', gone]);
  t.same([noConfig.status, noConfig.who, noConfig.code], [1, 'sipreg stats', 'ERR_CLI_NO_CONFIG']);

  // A config that is there but cannot be read (a directory: unreadable even for root): the problem as
  // sipreg check prints it, then the command's line.
  const dir = join(tmpDir(), 'sipreg.yaml');
  mkdirSync(dir);
  const r = runSipreg(['unregister', '1001', '-c', dir]);
  t.equal(r.status, 1, 'unreadable config: exit 1');
  const lines = r.stderr.trimEnd().split('\n');
  t.match(lines[0], new RegExp(`^${dir}: `), 'the problem first, as sipreg check prints it');
  t.match(lines.at(-1), /^sipreg unregister: ERR_CLI_CONFIG_INVALID: /, 'then the coded line');

});

t.test('--json: an operating error is one JSON object with the code, stdout empty', async (t) => {
  const r = runSipreg(['list', '--json', ...c]);
  t.equal(r.status, 1);
  t.equal(r.stdout, '');
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  t.equal(lines.length, 1, 'one line');
  const e = JSON.parse(lines[0]!) as { code: string; message: string };
  t.equal(e.code, 'ERR_CLI_NO_STORE');
  t.match(e.message, /^no store at /);
  // A usage error stays one line and the usage (what scripts and the man page promise), code included.
  const u = failure(['list', '--json', '--frob', ...c]);
  t.same([u.status, u.code], [2, 'ERR_CLI_UNKNOWN_OPTION']);
});

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []);
}

t.test('the registry: every code used, every code used registered, each in docs/operations.md', async (t) => {
  const registered = cliErrors.map((e) => e.code as string);
  const used = new Map<string, string>(); // code → the first file using it
  for (const path of sources(join(repoRoot, 'src'))) {
    if (path.endsWith(join('cli', 'errors.ts'))) continue;
    for (const m of readFileSync(path, 'utf8').matchAll(/\bERR_CLI_[A-Z_]+\b/g)) {
      if (!used.has(m[0])) used.set(m[0], relative(repoRoot, path));
    }
  }
  t.same(registered.filter((code) => !used.has(code)), [], 'no code registered and never used');
  t.same([...used].filter(([code]) => !registered.includes(code)).map(([code, where]) => `${code} (${where})`), [],
    'no code used that is not registered');
  t.same(new Set(cliErrors.map((e) => e.exitStatus)), new Set([1, 2]), 'exit statuses are 1 and 2 only');

  const docs = readFileSync(join(repoRoot, 'docs/operations.md'), 'utf8');
  const rows = [...docs.matchAll(/^\| `(ERR_CLI_[A-Z_]+)` \| (\d) \| (.*) \|$/gm)].map((m) => [m[1], Number(m[2]), m[3]]);
  t.same(rows, cliErrors.map((e) => [e.code, e.exitStatus, e.means]), 'docs/operations.md lists every code, its exit status and meaning');
});
