// The SS_* parameter table: complete, self-consistent, and the one source of the README table and
// the console listing.
import t from 'tap';
import {
  checkParamRelations, defaultParams, formatParamRange, formatParamValue, paramSpecs, parseParamValue,
  renderParamsListing, renderParamsMarkdown,
} from '../../src/config/index.js';
import type { ParamSpec } from '../../src/config/index.js';

const spec = (name: string): ParamSpec => {
  const found = paramSpecs.find((s) => s.name === name);
  if (found === undefined) throw new Error(`no ${name}`);
  return found;
};

t.test('the table names every parameter of the manual and ours, once each, mapped to distinct fields', async (t) => {
  const manual = ['SS_ENDPOINT_EXPIRE', 'SS_ENDPOINT_NAT_EXPIRE', 'SS_ENDPOINT_REGISTER_RETRY', 'SS_ENDPOINT_REGISTER_SUSPEND',
    'SS_ENDPOINT_REGISTER_REPLACE', 'SERVER_REGISTRAR_MAX_BINDINGS', 'SS_SIP_USER_AGENT_EXPIRE', 'SS_SIP_USER_AGENT_RETRY_DELAY',
    'SS_SIP_USER_AGENT_SEND_UNREGISTER', 'SS_SIP_USER_AGENT_PRIVACY'];
  t.same(paramSpecs.filter((s) => s.origin === 'manual').map((s) => s.name), manual);
  t.equal(new Set(paramSpecs.map((s) => s.name)).size, paramSpecs.length, 'names unique');
  t.equal(new Set(paramSpecs.map((s) => s.field)).size, paramSpecs.length, 'fields unique');
  t.equal(paramSpecs.length, Object.keys(defaultParams).length, 'every Params field has a parameter');
  for (const s of paramSpecs) {
    t.match(s.name, /^(SS|SERVER)_[A-Z0-9_]+$/, `${s.name}: SS_-style name`);
    t.ok(s.description.length > 10 && !s.description.includes('\n'), `${s.name}: one-line description`);
  }
});

t.test('every default passes its own validation', async (t) => {
  for (const s of paramSpecs) {
    const text = formatParamValue(s, s.default);
    const parsed = parseParamValue(s, s.kind === 'int' ? Number(text) : text);
    t.same(parsed.value, s.default, `${s.name} = ${text}`);
  }
  t.same(checkParamRelations(defaultParams), [], 'defaults satisfy every relation');
});

t.test('the manual\'s defaults and ranges', async (t) => {
  const table: readonly (readonly [string, string, string])[] = [
    ['SS_ENDPOINT_EXPIRE', '3600', '20..86400'],
    ['SS_ENDPOINT_NAT_EXPIRE', '300', '20..86400'],
    ['SS_ENDPOINT_REGISTER_RETRY', '6', '0..100'],
    ['SS_ENDPOINT_REGISTER_SUSPEND', '180', '1..86400'],
    ['SS_ENDPOINT_REGISTER_REPLACE', 'On', 'On/Off'],
    ['SERVER_REGISTRAR_MAX_BINDINGS', '1', '1..10'],
    ['SS_SIP_USER_AGENT_EXPIRE', 'Auto', 'Auto, 20..7200'],
    ['SS_SIP_USER_AGENT_RETRY_DELAY', '60', '30..600'],
    ['SS_SIP_USER_AGENT_SEND_UNREGISTER', 'On', 'On/Off'],
    ['SS_SIP_USER_AGENT_PRIVACY', 'Ignore', 'Ignore/Id/None'],
    ['SS_ENDPOINT_MIN_EXPIRE', '60', '1..3600'],
    ['SS_ENDPOINT_MAX_EXPIRE', '7200', '60..86400'],
    ['SS_REGISTER_RATE_PER_IP', '20', '0 (off), 1..100000'],
    ['SS_REGISTER_BURST_PER_IP', '60', '1..1000000'],
    ['SS_REGISTER_RATE_GLOBAL', '0', '0 (off), 1..1000000'],
    ['SS_AUTH_ALGORITHMS', 'MD5', 'MD5, SHA-256'],
  ];
  for (const [name, defaultText, range] of table) {
    t.equal(formatParamValue(spec(name), spec(name).default), defaultText, `${name} default`);
    t.equal(formatParamRange(spec(name)), range, `${name} range`);
  }
});

t.test('parseParamValue: accepted spellings and codes', async (t) => {
  const table: readonly (readonly [string, unknown, unknown])[] = [
    // [parameter, YAML value, typed value or error code]
    ['SS_ENDPOINT_REGISTER_REPLACE', 'On', true],
    ['SS_ENDPOINT_REGISTER_REPLACE', 'off', false],
    ['SS_ENDPOINT_REGISTER_REPLACE', 'YES', true],
    ['SS_ENDPOINT_REGISTER_REPLACE', 'No', false],
    ['SS_ENDPOINT_REGISTER_REPLACE', 'TRUE', true],
    ['SS_ENDPOINT_REGISTER_REPLACE', 'false', false],
    ['SS_ENDPOINT_REGISTER_REPLACE', '1', true],
    ['SS_ENDPOINT_REGISTER_REPLACE', '0', false],
    ['SS_ENDPOINT_REGISTER_REPLACE', 1, true],
    ['SS_ENDPOINT_REGISTER_REPLACE', 0, false],
    ['SS_ENDPOINT_REGISTER_REPLACE', true, true],
    ['SS_ENDPOINT_REGISTER_REPLACE', false, false],
    ['SS_ENDPOINT_REGISTER_REPLACE', 2, 'ERR_CONFIG_OPTION'],
    ['SS_ENDPOINT_REGISTER_REPLACE', 'enabled', 'ERR_CONFIG_OPTION'],
    ['SS_SIP_USER_AGENT_EXPIRE', 'Auto', 'auto'],
    ['SS_SIP_USER_AGENT_EXPIRE', 'auto', 'auto'],
    ['SS_SIP_USER_AGENT_EXPIRE', 20, 20],
    ['SS_SIP_USER_AGENT_EXPIRE', 7200, 7200],
    ['SS_SIP_USER_AGENT_EXPIRE', 19, 'ERR_CONFIG_RANGE'],
    ['SS_SIP_USER_AGENT_EXPIRE', 7201, 'ERR_CONFIG_RANGE'],
    ['SS_SIP_USER_AGENT_EXPIRE', 'Negotiate', 'ERR_CONFIG_OPTION'],
    ['SS_SIP_USER_AGENT_RETRY_DELAY', 30, 30],
    ['SS_SIP_USER_AGENT_RETRY_DELAY', 600, 600],
    ['SS_SIP_USER_AGENT_RETRY_DELAY', 29, 'ERR_CONFIG_RANGE'],
    ['SS_SIP_USER_AGENT_RETRY_DELAY', 601, 'ERR_CONFIG_RANGE'],
    ['SS_SIP_USER_AGENT_RETRY_DELAY', '60', 60],
    ['SS_SIP_USER_AGENT_RETRY_DELAY', 60.5, 'ERR_CONFIG_TYPE'],
    ['SS_SIP_USER_AGENT_RETRY_DELAY', '60s', 'ERR_CONFIG_TYPE'],
    ['SS_SIP_USER_AGENT_RETRY_DELAY', null, 'ERR_CONFIG_TYPE'],
    ['SS_ENDPOINT_NAT_KEEPALIVE', 0, 0],
    ['SS_ENDPOINT_NAT_KEEPALIVE', 4, 'ERR_CONFIG_RANGE'],
    ['SS_ENDPOINT_NAT_KEEPALIVE', 5, 5],
    ['SS_ENDPOINT_REGISTER_RETRY', 0, 0],
    ['SS_ENDPOINT_REGISTER_RETRY', -1, 'ERR_CONFIG_RANGE'],
    ['SS_SIP_USER_AGENT_PRIVACY', 'ignore', 'ignore'],
    ['SS_SIP_USER_AGENT_PRIVACY', 'ID', 'id'],
    ['SS_SIP_USER_AGENT_PRIVACY', 'None', 'none'],
    ['SS_SIP_USER_AGENT_PRIVACY', 'header', 'ERR_CONFIG_OPTION'],
    ['SS_AUTH_ALGORITHMS', 'MD5', ['MD5']],
    ['SS_AUTH_ALGORITHMS', 'SHA-256, MD5', ['SHA-256', 'MD5']],
    ['SS_AUTH_ALGORITHMS', ['md5', 'sha256'], ['MD5', 'SHA-256']],
    ['SS_AUTH_ALGORITHMS', 'MD5,MD5', 'ERR_CONFIG_OPTION'],
    ['SS_AUTH_ALGORITHMS', [], 'ERR_CONFIG_OPTION'],
    ['SS_AUTH_ALGORITHMS', 'SHA-512-256', 'ERR_CONFIG_OPTION'],
    ['SS_AUTH_ALGORITHMS', 5, 'ERR_CONFIG_TYPE'],
  ];
  for (const [name, input, expected] of table) {
    const parsed = parseParamValue(spec(name), input);
    const got = parsed.code ?? parsed.value;
    t.same(got, expected, `${name}: ${JSON.stringify(input)}`);
  }
});

t.test('relations', async (t) => {
  const names = (over: Partial<typeof defaultParams>): string[] => checkParamRelations({ ...defaultParams, ...over }).map((r) => r.name);
  t.same(names({ endpointMinExpiresS: 600, endpointMaxExpiresS: 300 }), ['SS_ENDPOINT_MIN_EXPIRE']);
  t.same(names({ endpointExpiresS: 30 }), ['SS_ENDPOINT_EXPIRE']);
  t.same(names({ endpointNatExpiresS: 7201 }), ['SS_ENDPOINT_NAT_EXPIRE']);
  t.same(names({ registerRatePerSourcePerS: 100, registerBurstPerSource: 99 }), ['SS_REGISTER_BURST_PER_IP']);
  t.same(names({ registerRatePerSourcePerS: 0, registerBurstPerSource: 1 }), [], 'burst is free while the rate is off');
  t.same(names({ registerRateGlobalPerS: 10 }), ['SS_REGISTER_RATE_GLOBAL']);
  t.same(names({ registerRateGlobalPerS: 10, registerRatePerSourcePerS: 0 }), []);
  t.same(names({ natKeepaliveIntervalS: 300 }), ['SS_ENDPOINT_NAT_KEEPALIVE']);
  t.same(names({ natKeepaliveIntervalS: 0, endpointNatExpiresS: 60 }), []);
});

t.test('the office-behind-one-NAT case passes the default rate limit', async (t) => {
  // 200 phones x 2 requests (challenge + authenticated REGISTER) all at once after an outage: the
  // bucket drains in well under a minute, and the steady state is far below the rate.
  const phones = 200;
  const requests = phones * 2;
  const drainS = (requests - defaultParams.registerBurstPerSource) / defaultParams.registerRatePerSourcePerS;
  t.ok(drainS <= 30, `all ${requests} through in ${drainS} s`);
  const steadyPerS = requests / defaultParams.endpointNatExpiresS;
  t.ok(defaultParams.registerRatePerSourcePerS >= 5 * steadyPerS, 'at least the manual\'s 5x headroom over steady state');
});

t.test('README table: one row per parameter, GitHub markdown', async (t) => {
  const md = renderParamsMarkdown();
  const lines = md.trimEnd().split('\n');
  t.equal(lines.length, paramSpecs.length + 2);
  t.match(lines[0], /^\| parameter \| default \| range \/ options \| unit \| meaning \| from \|$/);
  for (const s of paramSpecs) {
    const row = lines.find((l) => l.startsWith(`| \`${s.name}\` |`));
    t.ok(row, `${s.name} has a row`);
    t.equal(row?.split(' | ').length, 6, `${s.name}: six cells`);
  }
  t.match(md, /\| `SS_SIP_USER_AGENT_RETRY_DELAY` \| 60 \| 30\.\.600 \| s \|/);
});

t.test('console listing: values in force, marked when not default, within 80 columns', async (t) => {
  const params = { ...defaultParams, uaRetryDelayS: 120, authAlgorithms: ['SHA-256', 'MD5'] as const, eventCountMax: 99999999 };
  for (const descriptions of [false, true]) {
    const text = renderParamsListing(params, { descriptions });
    for (const line of text.trimEnd().split('\n')) t.ok(line.length <= 80, `fits 80: ${line}`);
    for (const s of paramSpecs) t.match(text, new RegExp(`^${s.name} `, 'm'), `${s.name} listed`);
  }
  const text = renderParamsListing(params);
  t.match(text, /^SS_SIP_USER_AGENT_RETRY_DELAY +120 s \* +60 +30\.\.600$/m);
  t.match(text, /^SS_AUTH_ALGORITHMS +SHA-256,MD5 \* +MD5 +MD5, SHA-256$/m);
  t.match(text, /^SS_ENDPOINT_EXPIRE +3600 s +3600 +20\.\.86400$/m);
  t.match(text, /^SS_EVENT_MAX +99999999 rows \* +1000000 +1000\.\.100000000$/m);
  t.ok(renderParamsListing(defaultParams, { widthCols: 60 }).split('\n').every((l) => l.length <= 60), 'narrower width honoured');
});
