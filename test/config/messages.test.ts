// Every message the config checker gives, word for word, as `sipreg check` prints it
// (FILE:LINE:COL: KEY: message): each fixture of test/fixtures/config/ and the small files below, one or
// more for every problem the loader can report. load.test.ts asserts codes and positions; this test holds
// the wording (test/fixtures/config-messages.txt), so changing a message is a visible edit of that file:
// UPDATE_CONFIG_MESSAGES=1 npx tap test/config/messages.test.ts rewrites it, for review in the diff.
import t from 'tap';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatProblem, parseConfigText } from '../../src/config/index.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
const trunk = (extra: string): string => `trunks:\n  - name: t\n    registrar: sip.example\n    username: "100"\n${extra}`;
const account = (extra: string): string => `accounts:\n  - number: "1001"\n${extra}`;

/** [name, file text]: what the fixtures do not already say. */
const cases: readonly (readonly [string, string])[] = [
  // YAML syntax and the shape of the file
  ['tab-key', 'sip:\n\trealm: office\n'],
  ['tab-item', 'accounts:\n  - number: "1001"\n\tpassword: "pw"\n'],
  ['unclosed-flow', 'sip: [0.0.0.0:5060\n'],
  ['bad-indent', 'sip:\n  realm: a\n    user_agent: b\n'],
  ['list-root', '- sip\n- accounts\n'],
  ['scalar-root', 'just text\n'],
  ['comment-only', '# nothing here\n'],
  ['complex-key', '? [a, b]\n: 1\nsip:\n  ? {x: 1}\n  : y\n'],
  ['unknown-top', 'sipp:\n  realm: x\nzzzzzzzzzzzzz: 1\n'],
  ['unknown-sip', 'sip:\n  listn: 0.0.0.0:5060\n  qqqqqqqq: 1\n'],
  ['unknown-account', account('    zzzzzz: 1\n    Password: x\n')],
  ['unknown-trunk', trunk('    zzzzzz: 1\n    usrname: a\n')],
  ['unknown-area', 'areas:\n  - name: a\n    prefixes: [203.0.113.0/24]\n    zzzzzz: 1\n'],
  ['unknown-acl', 'acl:\n  zzzzzz: []\n'],
  ['duplicate-keys', 'sip:\n  realm: a\nsip:\n  realm: b\naccounts:\n  - number: "1"\n    number: "2"\n    password: p\n'],
  ['not-mappings', 'sip: [a]\nacl: text\nparams: [1]\naccounts:\n  - just-a-string\ntrunks:\n  - [a]\nareas:\n  - 5\n'],
  ['not-lists', 'accounts: {a: 1}\ntrunks: text\nareas: 5\nsip:\n  listen: {a: 1}\n  domains: {a: 1}\nacl:\n  allow: {a: 1}\n'],
  // text, numbers, switches
  ['text-types', 'sip:\n  realm: [a]\n  user_agent: {a: 1}\ndata_dir: 1.5\nlog_level: true\nmetrics_textfile: 0x1F\n'],
  ['text-null', 'sip:\n  realm:\n  user_agent:\ndata_dir:\nlog_level:\n'],
  ['text-empty', 'data_dir: ""\nsip:\n  user_agent: "  "\n'],
  ['unquoted', account('    password: 1e3\n    account: 0644\n') + '  - number: 1001.50\n    ha1: 0x1F\n'],
  ['secret-bool', account('    password: true\n') + '  - number: true\n    password: "pw"\n'],
  ['integers', trunk('    port: x\n') + '  - name: u\n    registrar: sip.example\n    username: "101"\n    port: 70000\n' +
    'accounts:\n  - number: "1"\n    password: p\n    expire: abc\n  - number: "2"\n    password: p\n    expire: [1]\n'],
  ['switches', trunk('    enabled: maybe\n    allow_md5_without_qop: 2\n')],
  // params
  ['param-shape', 'params:\n  SS_ENDPOINT_EXPIRE: {a: 1}\n  SS_AUTH_ALGORITHMS: [MD5, {a: 1}]\n  SS_ENDPOINT_NAT_EXPIRE: [1, 2]\n'],
  ['param-unknown', 'params:\n  ss_endpoint_expire: 60\n  SS_ENDPOINT_EXPIR: 60\n'],
  // sip
  ['listen-empty', 'sip:\n  listen: []\n'],
  ['listen-null', 'sip:\n  listen:\n'],
  ['listen-many', `sip:\n  listen: [${Array.from({ length: 17 }, (_, i) => `"127.0.0.${i + 1}:5060"`).join(', ')}]\n`],
  ['listen-bad', 'sip:\n  listen:\n    - "0.0.0.0:0"\n    - "localhost:5060"\n    - "[::1]"\n    - "[::0]:5060"\n    - "[::]:5060"\n' +
    '    - [a]\n    - "0.0.0.0:5060 "\n    - " 0.0.0.0:5060"\n    - "[fe80::1%eth0]:5060"\n'],
  ['realm-bad', 'sip:\n  realm: "a\\"b"\n  user_agent: "a\\tb"\n'],
  ['realm-control', 'sip:\n  realm: "a\\u0001b"\n'],
  ['domains-bad', 'sip:\n  domains: [example.com, "bad host", "example.com:5060", [a], "", 1.5]\n'],
  // top level
  ['acl-bad', 'acl:\n  allow: [203.0.113.0/24, 203.0.113.1/24, "2001:db8::/129", x]\n  deny: 203.0.113.0/33\n'],
  // accounts
  ['number-bad', 'accounts:\n  - number: ""\n    password: p\n  - number: "a b"\n    password: p\n' +
    `  - number: "${'1'.repeat(65)}"\n    password: p\n  - number: "1@example.com"\n    password: p\n  - password: p\n  - number:\n    password: p\n`],
  ['number-long', `accounts:\n  - number: "${'1'.repeat(80)}"\n    password: p\n`],
  ['secrets-both', account('    password: pw\n    ha1: "0123456789abcdef0123456789abcdef"\n' +
    `    ha1_sha256: "${'a'.repeat(64)}"\n`)],
  ['secrets-none', account('') + '  - number: "1002"\n    auth_mode: ip_password\n    allow: 203.0.113.7\n' +
    '  - number: "1003"\n    password: ""\n  - number: "1004"\n    ha1:\n  - number: "1005"\n    password:\n'],
  ['ha1-forms', account('    ha1: "xyz"\n') + `  - number: "1002"\n    ha1_sha256: "${'a'.repeat(63)}"\n` +
    '  - number: "1003"\n    ha1: [a]\n  - number: "1004"\n    ha1: 123\n'],
  ['sha256-ha1-only', 'params:\n  SS_AUTH_ALGORITHMS: SHA-256\n' + account('    ha1: "0123456789abcdef0123456789abcdef"\n') +
    `  - number: "1002"\n    ha1_sha256: "${'b'.repeat(64)}"\n`],
  ['auth-modes', account('    auth_mode: [ip]\n    password: p\n') + '  - number: "1002"\n    auth_mode: IP_PORT\n' +
    '    allow: ["203.0.113.7", "[2001:db8::7]:5062", "203.0.113.8:0", "[203.0.113.9]:5060", "2001:db8::7:5062"]\n' +
    '  - number: "1003"\n    auth_mode: ip\n    allow: []\n  - number: "1004"\n    auth_mode: "  "\n    password: p\n'],
  ['account-misc', account('    password: p\n    expire: 30\n    account: [a]\n') + '  - number: "1002"\n    password: p\n    account: 42\n    expire:\n'],
  // trunks
  ['trunk-missing', 'trunks:\n  - {}\n  - name: x\n    registrar:\n    username:\n  - name: y\n    registrar: sip.example\n    username: ""\n'],
  ['trunk-names', 'trunks:\n' + ['""', '"  "', `"${'n'.repeat(65)}"`, '"a\\tb"', '[a]', '1.5'].map((n, i) =>
    `  - name: ${n}\n    registrar: sip.example\n    username: "${100 + i}"\n`).join('')],
  ['trunk-fields', trunk('    auth_user: "a\\"b"\n    expire: 5\n    proxy: "[2001:db8::1]"\n    domain: "a b"\n') +
    '  - name: u\n    registrar: "[sip.example]"\n    username: "u@example.com"\n    auth_user: [a]\n    expire: sometimes\n    proxy: ""\n    domain: ""\n' +
    '  - name: v\n    registrar: "[2001:db8::1"\n    username: "101"\n    proxy: "[2001:db8::1]:0"\n    password: [a]\n    expire: {a: 1}\n'],
  ['trunk-duplicates', trunk('') + '  - name: t\n    registrar: sip.example\n    username: "101"\n  - name: t\n    registrar: sip.example\n    username: "102"\n'],
  // areas
  ['areas-bad', 'areas:\n  - name: a\n  - name: b\n    prefixes: []\n  - name: c\n    prefixes: [203.0.113.0/24, "203.0.113.7/24", nope]\n' +
    '  - prefixes: 198.51.100.0/24\n  - name: a\n    prefixes: 198.51.100.0/24\n'],
  // redaction: a secret that shows up in another key's message is starred
  ['redaction', 'accounts:\n  - number: "1001"\n    password: "bad host"\ntrunks:\n  - name: t\n    registrar: "bad host"\n    username: "100"\n' +
    '    password: "sip.example:5060"\n    proxy: "sip.example:5060:1"\n'],
  ['redaction-broken', 'accounts:\n  - number: "1001"\n    password: "Pa55word-Open\n'],
];

function render(name: string, text: string): string[] {
  return parseConfigText(text, name).problems.map(formatProblem);
}

t.test('every message, word for word', async (t) => {
  const configDir = join(fixtures, 'config');
  const out: string[] = [];
  for (const file of readdirSync(configDir).filter((f) => f.endsWith('.yaml')).sort()) {
    out.push(...render(file, readFileSync(join(configDir, file), 'utf8')));
  }
  for (const [name, text] of cases) {
    const lines = render(`${name}.yaml`, text);
    t.ok(lines.length > 0, `${name}: has problems`);
    out.push(...lines);
  }
  const golden = join(fixtures, 'config-messages.txt');
  if (process.env['UPDATE_CONFIG_MESSAGES'] === '1') writeFileSync(golden, `${out.join('\n')}\n`);
  const expected = readFileSync(golden, 'utf8').trimEnd().split('\n');
  t.same(out, expected);
  t.equal(new Set(cases.map(([name]) => name)).size, cases.length, 'case names unique');
});
