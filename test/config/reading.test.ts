// A config read for an admin command or the console, without its accounts (config/load.ts,
// parseConfigTextForReading): the same config otherwise, problems at the file's own positions, and
// the whole file read whenever leaving the block out is not plainly safe.
import t from 'tap';
import { parseConfigText, parseConfigTextForReading } from '../../src/config/index.js';
import { withoutAccounts } from '../../src/config/load.js';
import { dirname, join } from 'node:path';
import { runSipreg, writeConfig } from '../helpers/sipreg.js';

const accounts = (n: number): string =>
  `accounts:\n${Array.from({ length: n }, (_, i) => `  - number: "${1000 + i}"\n    password: "pw${i}secret"\n`).join('')}`;
const file = (body: string): string => `sip:\n  listen: ["127.0.0.1:5060"]\n  realm: test\ndata_dir: /tmp/x\n${body}params:\n  SS_ENDPOINT_EXPIRE: 600\n`;

t.test('the accounts are left out, everything else is the same', async (t) => {
  const text = file(accounts(50));
  const full = parseConfigText(text, '/tmp/sipreg.yaml').config!;
  const light = parseConfigTextForReading(text, '/tmp/sipreg.yaml').config!;
  t.equal(full.accounts.length, 50);
  t.equal(light.accounts.length, 0, 'no accounts');
  t.equal(light.accountsOmitted, true, 'and it says so');
  t.equal(full.accountsOmitted, undefined);
  const { accounts: _a, accountsOmitted: _o, ...rest } = light;
  const { accounts: _b, ...fullRest } = full;
  t.same(rest, fullRest, 'params, sip, data_dir, trunks, areas as read in full');
  t.equal(light.params.endpointExpiresS, 600, 'SS_ENDPOINT_EXPIRE read');
});

t.test('the block is blanked line for line: a problem after it is at the same line', async (t) => {
  const text = file(accounts(3)).replace('SS_ENDPOINT_EXPIRE: 600', 'SS_ENDPOINT_EXPIRE: soon');
  const blanked = withoutAccounts(text)!;
  t.equal(blanked.split('\n').length, text.split('\n').length, 'as many lines');
  const full = parseConfigText(text, '/tmp/s.yaml').problems;
  const light = parseConfigTextForReading(text, '/tmp/s.yaml').problems;
  t.ok(full.length > 0);
  t.same(light, full, 'the problems of the whole file, at their lines');
});

t.test('not plainly one block of one document: the whole file is read', async (t) => {
  t.equal(withoutAccounts(`---\n${file(accounts(1))}`), null, 'a document marker');
  t.equal(withoutAccounts(file('')), null, 'no accounts block');
  t.equal(withoutAccounts(`${file(accounts(1))}${accounts(1)}`), null, 'two of them (a duplicate key, reported by the full read)');
  // An alias into the block: without it the rest does not load, so the file is read whole.
  const aliased = `sip:\n  listen: ["127.0.0.1:5060"]\n  realm: test\ndata_dir: /tmp/x\naccounts:\n  - &first {number: "1001", password: "pw1001secret"}\nareas:\n  - *first\n`;
  const r = parseConfigTextForReading(aliased, '/tmp/a.yaml');
  t.same(r.problems, parseConfigText(aliased, '/tmp/a.yaml').problems, 'the whole file\'s answer');
  t.notOk(r.config?.accountsOmitted, 'not marked as left out');
});

t.test('admin commands read the live config without its accounts; check reads them', async (t) => {
  // The 2,000th account is broken: only a reader that parses the accounts sees it.
  const cfg = writeConfig(`sip:\n  listen: ["127.0.0.1:1"]\n  realm: test\ndata_dir: "@DATA@"\n${accounts(1_999)}  - number: "12 34"\n    password: "pw-bad-one"\n`);
  const check = runSipreg(['check', '-c', cfg]);
  t.equal(check.status, 1, 'check reads every account');
  t.match(check.stdout + check.stderr, /accounts/);
  const list = runSipreg(['list', '-c', cfg, '--data-dir', join(dirname(cfg), 'data')]);
  t.notMatch(list.stderr, /problem/, `list did not parse the accounts (stderr: ${list.stderr.trim()})`);
});
