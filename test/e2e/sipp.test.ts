// SIPp scenarios (test/fixtures/sipp) against the real service: the RFC 3261 §10.3 behaviour a phone sees.
import t from 'tap';
import { accountsYaml, sipp, startService, type Service } from './service.js';

const numbers = ['1001', '1002', '1003', '1004', '1005', '1006', '1007'];
const params = 'params:\n  SS_ENDPOINT_EXPIRE_JITTER: 0\n  SS_REGISTER_RATE_PER_IP: 0\n  SERVER_REGISTRAR_MAX_BINDINGS: 1\n';

let svc: Service;
t.before(async () => { svc = await startService(params + accountsYaml(numbers)); });
t.teardown(async () => { await svc.kill('SIGTERM'); });

const one = (n: string): string[] => ['-s', n, '-au', n, '-ap', 'secret', '-m', '1'];

for (const [scenario, number] of [['register-auth.xml', '1001'], ['refresh.xml', '1002'], ['unregister.xml', '1003'], ['wildcard.xml', '1004'],
  ['too-brief.xml', '1005'], ['replace-on.xml', '1007']] as const) {
  t.test(scenario, async (t) => {
    const r = await sipp(svc, scenario, one(number));
    t.equal(r.code, 0, r.errors);
  });
}

t.test('CSeq ordering: a lower CSeq on the same Call-ID is refused', async (t) => {
  const cid = ['-cid_str', 'cseq-order-%u@sipreg-e2e'];
  t.equal((await sipp(svc, 'cseq-order.xml', [...one('1006'), ...cid])).code, 0);
  const stale = await sipp(svc, 'cseq-stale.xml', [...one('1006'), ...cid]);
  t.equal(stale.code, 0, stale.errors);
  const show = svc.cli(['show', '1006', '--json']);
  t.match(show.stdout, /"cseq": ?11/, 'the binding still has the CSeq of the last accepted REGISTER');
});

t.test('the service is alive and lists what SIPp registered', async (t) => {
  const list = svc.cli(['list', '--json']);
  t.equal(list.status, 0, list.stderr);
  const rows = JSON.parse(list.stdout) as { number: string }[];
  t.same(rows.map((r) => r.number).sort(), ['1001', '1002', '1006', '1007']);
});

t.test('replace Off: the second device is refused with 403 and the first kept', async (t) => {
  const off = await startService(params + '  SS_ENDPOINT_REGISTER_REPLACE: Off\n' + accountsYaml(['2001']));
  t.teardown(() => off.kill('SIGTERM'));
  const r = await sipp(off, 'replace-off.xml', one('2001'));
  t.equal(r.code, 0, r.errors);
  const events = off.cli(['events', '--json', '--number', '2001']);
  t.match(events.stdout, /403 Too Many Registrations: SERVER_REGISTRAR_MAX_BINDINGS 1 reached, SS_ENDPOINT_REGISTER_REPLACE Off/);
});
