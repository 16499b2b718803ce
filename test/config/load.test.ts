// Every validation rule of the config file, one fixture each (test/fixtures/config/), with the
// expected problems as `CODE LINE:COL KEY`. A fixture must report exactly these, in this order.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadConfig, parseConfigText, formatProblem } from '../../src/config/index.js';
import type { ConfigProblem } from '../../src/config/index.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'config');
const fixture = (name: string): string => join(fixtures, name);

function brief(p: ConfigProblem): string {
  return `${p.code} ${p.line}:${p.col} ${p.key}`;
}

const cases: readonly (readonly [fixture: string, expected: readonly string[]])[] = [
  ['syntax-error.yaml', ['ERR_CONFIG_SYNTAX 5:4 params.SS_ENDPOINT_EXPIRE']],
  ['syntax-unclosed-quote.yaml', ['ERR_CONFIG_SYNTAX 2:10 sip.realm']],
  ['empty.yaml', ['ERR_CONFIG_REQUIRED 1:1 yaml']],
  ['not-a-mapping.yaml', ['ERR_CONFIG_TYPE 1:1 yaml']],
  ['unknown-keys.yaml', [
    'ERR_CONFIG_UNKNOWN_KEY 2:3 sip.relm',
    'ERR_CONFIG_UNKNOWN_KEY 3:1 acount',
    'ERR_CONFIG_UNKNOWN_KEY 5:3 params.SS_ENDPOINT_EXPIRES',
    'ERR_CONFIG_UNKNOWN_KEY 6:3 params.SS_TOTALLY_UNKNOWN',
    'ERR_CONFIG_UNKNOWN_KEY 10:5 accounts[0].pasword',
    'ERR_CONFIG_UNKNOWN_KEY 15:5 trunks[0].registar',
    'ERR_CONFIG_UNKNOWN_KEY 19:5 areas[0].prefix',
    'ERR_CONFIG_UNKNOWN_KEY 21:3 acl.alow',
  ]],
  ['wrong-types.yaml', [
    'ERR_CONFIG_TYPE 2:11 sip.listen',
    'ERR_CONFIG_TYPE 3:10 sip.realm',
    'ERR_CONFIG_TYPE 4:9 params',
    'ERR_CONFIG_TYPE 5:11 accounts',
    'ERR_CONFIG_TYPE 10:11 trunks[0].port',
    'ERR_CONFIG_TYPE 11:8 areas',
    'ERR_CONFIG_OPTION 12:12 log_level',
  ]],
  ['param-types.yaml', [
    'ERR_CONFIG_TYPE 2:23 params.SS_ENDPOINT_EXPIRE',
    'ERR_CONFIG_TYPE 3:27 params.SS_ENDPOINT_NAT_EXPIRE',
    'ERR_CONFIG_TYPE 4:31 params.SS_ENDPOINT_REGISTER_RETRY',
    'ERR_CONFIG_TYPE 5:16 params.SS_EVENT_MAX',
  ]],
  ['range.yaml', [
    'ERR_CONFIG_RANGE 2:34 params.SS_SIP_USER_AGENT_RETRY_DELAY',
    'ERR_CONFIG_RANGE 3:30 params.SS_ENDPOINT_NAT_KEEPALIVE',
    'ERR_CONFIG_RANGE 4:34 params.SERVER_REGISTRAR_MAX_BINDINGS',
    'ERR_CONFIG_RANGE 5:29 params.SS_SIP_USER_AGENT_EXPIRE',
  ]],
  ['switch-bad.yaml', [
    'ERR_CONFIG_OPTION 2:33 params.SS_ENDPOINT_REGISTER_REPLACE',
    'ERR_CONFIG_OPTION 3:38 params.SS_SIP_USER_AGENT_SEND_UNREGISTER',
    'ERR_CONFIG_OPTION 4:29 params.SS_SIP_USER_AGENT_EXPIRE',
    'ERR_CONFIG_OPTION 5:30 params.SS_SIP_USER_AGENT_PRIVACY',
    'ERR_CONFIG_OPTION 6:23 params.SS_AUTH_ALGORITHMS',
    'ERR_CONFIG_OPTION 11:14 trunks[0].enabled',
  ]],
  ['relations.yaml', [
    'ERR_CONFIG_RELATION 2:27 params.SS_ENDPOINT_MIN_EXPIRE',
    'ERR_CONFIG_RELATION 5:29 params.SS_REGISTER_BURST_PER_IP',
  ]],
  ['relations-expire.yaml', [
    'ERR_CONFIG_RELATION 2:23 params.SS_ENDPOINT_EXPIRE',
    'ERR_CONFIG_RELATION 3:27 params.SS_ENDPOINT_NAT_EXPIRE',
    'ERR_CONFIG_RELATION 4:28 params.SS_REGISTER_RATE_GLOBAL',
    'ERR_CONFIG_RANGE 8:13 accounts[0].expire',
  ]],
  ['sha256-only.yaml', ['ERR_CONFIG_RELATION 5:10 accounts[0].ha1']],
  ['duplicate-number.yaml', ['ERR_CONFIG_DUPLICATE 6:13 accounts[2].number']],
  ['duplicate-trunk.yaml', ['ERR_CONFIG_DUPLICATE 5:11 trunks[1].name']],
  ['duplicate-area.yaml', ['ERR_CONFIG_DUPLICATE 4:11 areas[1].name']],
  ['duplicate-yaml-key.yaml', [
    'ERR_CONFIG_DUPLICATE_KEY 3:3 sip.realm',
    'ERR_CONFIG_DUPLICATE_KEY 6:3 params.SS_ENDPOINT_EXPIRE',
  ]],
  ['bad-cidr.yaml', [
    'ERR_CONFIG_CIDR 2:11 acl.allow[0]',
    'ERR_CONFIG_CIDR 3:10 acl.deny[0]',
    'ERR_CONFIG_CIDR 7:13 accounts[0].allow[0]',
    'ERR_CONFIG_CIDR 7:53 accounts[0].allow[2]',
    'ERR_CONFIG_CIDR 7:74 accounts[0].allow[3]',
    'ERR_CONFIG_CIDR 10:32 areas[0].prefixes[1]',
  ]],
  ['bad-listen.yaml', [
    'ERR_CONFIG_ADDRESS 4:7 sip.listen[1]',
    'ERR_CONFIG_ADDRESS 5:7 sip.listen[2]',
    'ERR_CONFIG_ADDRESS 6:7 sip.listen[3]',
    'ERR_CONFIG_DUPLICATE 7:7 sip.listen[4]',
    'ERR_CONFIG_ADDRESS 8:7 sip.listen[5]',
    'ERR_CONFIG_DUPLICATE 10:7 sip.listen[7]',
  ]],
  ['missing-password.yaml', [
    'ERR_CONFIG_REQUIRED 2:5 accounts[0].password',
    'ERR_CONFIG_REQUIRED 4:5 accounts[1].password',
    'ERR_CONFIG_REQUIRED 8:15 accounts[2].password',
    'ERR_CONFIG_CONFLICT 11:10 accounts[3].ha1',
  ]],
  ['ha1-bad.yaml', [
    'ERR_CONFIG_HA1 3:10 accounts[0].ha1',
    'ERR_CONFIG_HA1 5:10 accounts[1].ha1',
    'ERR_CONFIG_HA1 8:17 accounts[2].ha1_sha256',
  ]],
  ['ip-modes.yaml', [
    'ERR_CONFIG_REQUIRED 2:5 accounts[0].allow',
    'ERR_CONFIG_REQUIRED 6:33 accounts[1].allow[1]',
    'ERR_CONFIG_REQUIRED 9:12 accounts[2].allow',
    'ERR_CONFIG_OPTION 11:16 accounts[3].auth_mode',
  ]],
  ['realm-empty.yaml', [
    'ERR_CONFIG_REQUIRED 2:10 sip.realm',
    'ERR_CONFIG_REQUIRED 3:15 sip.user_agent',
  ]],
  ['bad-number.yaml', [
    'ERR_CONFIG_SIP_USER 2:13 accounts[0].number',
    'ERR_CONFIG_SIP_USER 4:13 accounts[1].number',
    'ERR_CONFIG_REQUIRED 6:5 accounts[2].number',
    'ERR_CONFIG_SIP_USER 7:13 accounts[3].number',
  ]],
  ['number-trap.yaml', [
    'ERR_CONFIG_UNQUOTED 2:13 accounts[0].number',
    'ERR_CONFIG_UNQUOTED 4:13 accounts[1].number',
    'ERR_CONFIG_UNQUOTED 6:13 accounts[2].number',
    'ERR_CONFIG_TYPE 8:13 accounts[3].number',
  ]],
  ['trunk-hosts.yaml', [
    'ERR_CONFIG_HOST 3:16 trunks[0].registrar',
    'ERR_CONFIG_HOST 6:16 trunks[1].registrar',
    'ERR_CONFIG_ADDRESS 7:12 trunks[1].proxy',
    'ERR_CONFIG_HOST 10:16 trunks[2].registrar',
    'ERR_CONFIG_ADDRESS 11:12 trunks[2].proxy',
    'ERR_CONFIG_HOST 13:13 trunks[2].domain',
    'ERR_CONFIG_REQUIRED 14:5 trunks[3].registrar',
    'ERR_CONFIG_REQUIRED 14:11 trunks[3].name',
  ]],
  ['data-dir.yaml', [
    'ERR_CONFIG_TYPE 1:11 data_dir',
    'ERR_CONFIG_OPTION 2:19 metrics_textfile',
  ]],
  ['log-level.yaml', ['ERR_CONFIG_OPTION 1:12 log_level']],
  ['five-problems.yaml', [
    'ERR_CONFIG_RANGE 7:34 params.SS_SIP_USER_AGENT_RETRY_DELAY',
    'ERR_CONFIG_UNKNOWN_KEY 8:3 params.SS_ENDPOINT_NAT_EXPIRY',
    'ERR_CONFIG_DUPLICATE 12:13 accounts[1].number',
    'ERR_CONFIG_HA1 15:10 accounts[2].ha1',
    'ERR_CONFIG_SYNTAX 17:3 log_level',
  ]],
  ['valid-minimal.yaml', []],
  ['valid-switches.yaml', []],
  ['valid-numbers.yaml', []],
  ['valid-relative.yaml', []],
  ['aliases.yaml', []],
];

t.test('each rule reports its problems at the node at fault', async (t) => {
  for (const [name, expected] of cases) {
    const { config, problems } = loadConfig(fixture(name));
    t.same(problems.map(brief), expected, name);
    t.equal(config === null, expected.length > 0, `${name}: config only when valid`);
    for (const p of problems) t.equal(p.file, fixture(name), `${name}: file as given`);
  }
});

t.test('messages say what was expected and what was received', async (t) => {
  const message = (name: string, key: string): string =>
    loadConfig(fixture(name)).problems.find((p) => p.key === key)?.message ?? '(none)';
  const table: readonly (readonly [string, string, string | RegExp])[] = [
    ['range.yaml', 'params.SS_SIP_USER_AGENT_RETRY_DELAY', 'must be 30..600. Received 5'],
    ['range.yaml', 'params.SS_ENDPOINT_NAT_KEEPALIVE', 'must be 0 (off) or 5..600. Received 2'],
    ['range.yaml', 'params.SS_SIP_USER_AGENT_EXPIRE', 'must be Auto or 20..7200. Received 10'],
    ['unknown-keys.yaml', 'acount', 'unknown key; did you mean accounts?'],
    ['unknown-keys.yaml', 'params.SS_ENDPOINT_EXPIRES', 'unknown key; did you mean SS_ENDPOINT_EXPIRE?'],
    ['unknown-keys.yaml', 'accounts[0].pasword', 'unknown key; did you mean password?'],
    ['unknown-keys.yaml', 'params.SS_TOTALLY_UNKNOWN', /^unknown key; see the parameter table/],
    ['duplicate-number.yaml', 'accounts[2].number', 'duplicate account number "1001" (first at line 2)'],
    ['duplicate-trunk.yaml', 'trunks[1].name', 'duplicate trunk name "carrier-a" (first at line 2)'],
    ['duplicate-area.yaml', 'areas[1].name', 'duplicate area name "Head office" (first at line 2)'],
    ['duplicate-yaml-key.yaml', 'sip.realm', /first at line 2/],
    ['number-trap.yaml', 'accounts[0].number', 'is read by YAML as the number 644, not the text 0644; put it in quotes: "0644"'],
    ['bad-cidr.yaml', 'accounts[0].allow[0]', /host bits set; the network is 203\.0\.113\.0\/24/],
    ['bad-number.yaml', 'accounts[0].number', /without @domain/],
    ['ha1-bad.yaml', 'accounts[0].ha1', 'must be 32 hex digits (the MD5 of number:realm:password). Received 31 hex digits'],
    ['ip-modes.yaml', 'accounts[0].allow', /auth_mode ip needs a non-empty allow list/],
    ['ip-modes.yaml', 'accounts[1].allow[1]', /needs a port on each entry/],
    ['missing-password.yaml', 'accounts[0].password', 'auth_mode password needs a password (or ha1)'],
    ['relations.yaml', 'params.SS_ENDPOINT_MIN_EXPIRE', 'must be <= SS_ENDPOINT_MAX_EXPIRE (300). Received 600'],
    ['trunk-hosts.yaml', 'trunks[0].registrar', /without a port/],
    ['syntax-error.yaml', 'params.SS_ENDPOINT_EXPIRE', /^YAML: this line is indented deeper/],
    ['syntax-unclosed-quote.yaml', 'sip.realm', /^YAML: Missing closing "quote/],
  ];
  for (const [name, key, expected] of table) {
    if (typeof expected === 'string') t.equal(message(name, key), expected, `${name} ${key}`);
    else t.match(message(name, key), expected, `${name} ${key}`);
  }
});

t.test('formatProblem prints FILE:LINE:COL: KEY: message', async (t) => {
  const { problems } = parseConfigText('params:\n  SS_SIP_USER_AGENT_RETRY_DELAY: 5\n', 'etc/x.yaml');
  t.same(problems.map(formatProblem), ['etc/x.yaml:2:34: params.SS_SIP_USER_AGENT_RETRY_DELAY: must be 30..600. Received 5']);
  t.equal(formatProblem({ file: 'a.yaml', line: 0, col: 0, key: '', code: 'ERR_CONFIG_READ', message: 'cannot read: ENOENT' }), 'a.yaml: cannot read: ENOENT');
});

t.test('one broken file with five different problems reports all five', async (t) => {
  const { config, problems } = loadConfig(fixture('five-problems.yaml'));
  t.equal(config, null);
  t.equal(problems.length, 5);
  t.equal(new Set(problems.map((p) => p.code)).size, 5, 'five different codes');
  t.same(problems.map((p) => p.line), [7, 8, 12, 15, 17], 'each names its line, in file order');
});

t.test('passwords and HA1 values never appear in any message', async (t) => {
  const secrets = ['Hunter2-Secret', '012345', '12345', 'Hunter3-NotHex', 'Trunk-Secret-9'];
  const { problems } = loadConfig(fixture('secrets.yaml'));
  t.same(problems.map(brief), [
    'ERR_CONFIG_RANGE 4:13 accounts[0].expire',
    'ERR_CONFIG_UNQUOTED 6:15 accounts[1].password',
    'ERR_CONFIG_HA1 8:10 accounts[2].ha1',
    'ERR_CONFIG_HOST 11:16 trunks[0].registrar',
    'ERR_CONFIG_RANGE 14:11 trunks[0].port',
  ]);
  const output = problems.map(formatProblem).join('\n');
  for (const secret of secrets) t.notOk(output.includes(secret), `no ${secret} in the output`);
  // A syntax error inside a password line: the library's message must not carry it either.
  const broken = parseConfigText('accounts:\n  - number: "1"\n    password: "Pa55word-Open\n', 'b.yaml');
  t.ok(broken.problems.length > 0);
  t.notOk(broken.problems.map(formatProblem).join('\n').includes('Pa55word'), 'unclosed quote');
  // Every fixture, for good measure: no value of a password/ha1 key in any message.
  const passwordValues = ['secret', 'other', 'change-me', 'Hunter'];
  for (const [name] of cases) {
    const text = loadConfig(fixture(name)).problems.map((p) => p.message).join('\n');
    for (const value of passwordValues) t.notOk(text.includes(`"${value}`), `${name}: no ${value}`);
  }
});

t.test('switches, Auto, enums and lists in every accepted spelling', async (t) => {
  const { config, problems } = loadConfig(fixture('valid-switches.yaml'));
  t.same(problems, []);
  if (config === null) return;
  t.equal(config.params.registerReplace, false, 'off');
  t.equal(config.params.uaSendUnregister, false, '"0"');
  t.equal(config.params.natKeepaliveRemove, true, 'YES');
  t.equal(config.params.lockoutSilentDrop, false, 'YAML false');
  t.equal(config.params.uaExpiresS, 'auto', 'AUTO');
  t.equal(config.params.uaPrivacy, 'id');
  t.same(config.params.authAlgorithms, ['SHA-256', 'MD5'], 'order kept, names canonical');
  t.same(config.trunks.map((x) => x.enabled), [true, true, false], '1, True, no');
  t.same(config.trunks.map((x) => x.expiresS), ['auto', 120, null]);
  t.same(config.trunks.map((x) => x.allowMd5WithoutQop), [false, true, false], 'allow_md5_without_qop: Off unless said');
  t.same(config.trunks[1]?.proxy, { host: '2001:db8::8', port: 5070 });
  t.equal(config.trunks[1]?.registrar, '2001:db8::7', 'brackets dropped');
  t.same(config.trunks[2]?.proxy, { host: 'proxy.example.net', port: null });
  t.equal(config.trunks[0]?.domain, '198.51.100.7', 'domain defaults to registrar');
  t.equal(config.trunks[0]?.authUser, '100', 'auth_user defaults to username');
});

t.test('unquoted numbers are the digits written', async (t) => {
  const { config, problems } = loadConfig(fixture('valid-numbers.yaml'));
  t.same(problems, []);
  t.same(config?.accounts.map((a) => a.number), ['1001', '44200000000000000000', '0044', 'alice.smith-2']);
  t.equal(config?.accounts[0]?.ha1.md5, md5('1001:sipreg:1234'), 'password 1234 unquoted is the text 1234');
});

t.test('HA1 is computed at load and the password is not kept', async (t) => {
  const text = [
    'sip: {realm: "office"}',
    'accounts:',
    '  - {number: "1001", password: "pw"}',
    '  - {number: "1002", ha1: "0123456789ABCDEF0123456789ABCDEF"}',
    `  - {number: "1003", ha1: "${md5('x')}", ha1_sha256: "${'A'.repeat(64)}"}`,
    '  - {number: "1004", auth_mode: ip, allow: "203.0.113.9"}',
  ].join('\n');
  const { config, problems } = parseConfigText(text, 'h.yaml');
  t.same(problems, []);
  const ha1 = config?.accounts.map((a) => a.ha1);
  t.same(ha1, [
    { md5: md5('1001:office:pw'), sha256: sha256('1001:office:pw') },
    { md5: '0123456789abcdef0123456789abcdef', sha256: null },
    { md5: md5('x'), sha256: 'a'.repeat(64) },
    { md5: null, sha256: null },
  ]);
  t.notOk(JSON.stringify(config?.accounts).includes('"pw"'), 'no password in the accounts');
});

t.test('defaults for everything that may be omitted', async (t) => {
  const { config, problems } = parseConfigText('sip:\n', '/etc/sipreg/sipreg.yaml');
  t.same(problems, []);
  if (config === null) return;
  t.same(config.sip.listen.map((l) => l.text), ['0.0.0.0:5060']);
  t.equal(config.sip.realm, 'sipreg');
  t.same(config.sip.domains, []);
  t.match(config.sip.userAgent, /^sipreg\//);
  t.equal(config.dataDir, '/var/lib/sipreg');
  t.equal(config.logLevel, 'info');
  t.equal(config.metricsTextfile, null);
  t.same([config.accounts, config.trunks, config.areas, config.acl], [[], [], [], { allow: [], deny: [] }]);
  t.equal(config.file, '/etc/sipreg/sipreg.yaml');
  const empty = parseConfigText('sip:\naccounts: []\ntrunks:\nareas:\n', 'e.yaml');
  t.same(empty.problems, [], 'empty lists and nulls are valid');
});

t.test('relative paths resolve against the config file, not the working directory', async (t) => {
  const { config } = parseConfigText('data_dir: var/data\nmetrics_textfile: metrics/sipreg.prom\n', '/opt/sipreg/etc/sipreg.yaml');
  t.equal(config?.dataDir, '/opt/sipreg/etc/var/data');
  t.equal(config?.metricsTextfile, '/opt/sipreg/etc/metrics/sipreg.prom');
  const loaded = loadConfig(fixture('valid-relative.yaml'));
  t.equal(loaded.config?.dataDir, join(fixtures, 'var', 'data'));
});

t.test('aliases resolve', async (t) => {
  const { config } = loadConfig(fixture('aliases.yaml'));
  t.same(config?.areas[0]?.prefixes.map((p) => p.text), ['203.0.113.0/24']);
  t.same(config?.acl.allow.map((p) => p.text), ['203.0.113.0/24']);
});

t.test('loading is a pure function of the text (reload)', async (t) => {
  const text = 'sip: {realm: r}\naccounts: [{number: "1", password: "p"}]\n';
  t.same(parseConfigText(text, 'a.yaml'), parseConfigText(text, 'a.yaml'));
});

t.test('an unreadable file is one ERR_CONFIG_READ problem', async (t) => {
  const { config, problems } = loadConfig(fixture('does-not-exist.yaml'));
  t.equal(config, null);
  t.same(problems.map((p) => [p.code, p.line]), [['ERR_CONFIG_READ', 0]]);
  t.match(problems[0]?.message, /^cannot read: ENOENT: no such file or directory$/);
});

import { createHash } from 'node:crypto';
function md5(s: string): string {
  return createHash('md5').update(s).digest('hex');
}
function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
