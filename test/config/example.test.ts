// etc/sipreg.yaml is what installers copy: it must pass the checker, list every parameter with its
// default, and load to the documented defaults.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { defaultParams, formatParamValue, loadConfig, paramSpecs } from '../../src/config/index.js';

const example = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'etc', 'sipreg.yaml');
const text = readFileSync(example, 'utf8');

t.test('the example passes the checker', async (t) => {
  const { config, problems } = loadConfig(example);
  t.same(problems, []);
  t.not(config, null);
});

t.test('every parameter appears with its default value and a comment', async (t) => {
  for (const spec of paramSpecs) {
    const line = text.split('\n').find((l) => l.trimStart().startsWith(`${spec.name}:`));
    t.ok(line, `${spec.name} is in the example`);
    const pattern = new RegExp(`^  ${spec.name}: ${formatParamValue(spec, spec.default).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} +# \\S`);
    t.match(line, pattern, `${spec.name}: default ${formatParamValue(spec, spec.default)} with a comment`);
  }
});

t.test('the example loads to the documented defaults', async (t) => {
  const { config } = loadConfig(example);
  if (config === null) return;
  t.same(config.params, defaultParams, 'params are the defaults');
  t.same(config.sip.listen.map((l) => [l.host, l.port, l.family]), [['127.0.0.1', 5060, 4], ['::1', 5060, 6]],
    'loopback only: the example\'s passwords are published');
  t.equal(config.sip.realm, 'sipreg');
  t.equal(config.dataDir, '/var/lib/sipreg');
  t.equal(config.logLevel, 'info');
  t.same(config.accounts.map((a) => [a.number, a.authMode]), [['1001', 'password'], ['1002', 'password'], ['2001', 'ip']]);
  t.ok(config.accounts[0]?.ha1.md5 !== null && config.accounts[0]?.ha1.sha256 !== null, 'password account: both HA1');
  t.ok(config.accounts[1]?.ha1.md5 !== null && config.accounts[1]?.ha1.sha256 === null, 'ha1 account: MD5 only');
  t.equal(config.trunks.length, 1);
  t.equal(config.trunks[0]?.enabled, false, 'the example trunk is disabled');
  t.equal(config.areas.length, 1);
});
