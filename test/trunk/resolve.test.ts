// Where REGISTERs go: IP literals, A/AAAA, SRV _sip._udp when no port (RFC 3263 §4.2), and the
// source address toward a target for wildcard sockets.
import t from 'tap';
import { dnsResolver, routeSourceAddress, type DnsApi } from '../../src/trunk/resolve.js';

function fakeDns(hosts: Record<string, { address: string; family: number }[]>, srv: Record<string, { name: string; port: number; priority: number; weight: number }[]>): DnsApi & { asked: string[] } {
  const asked: string[] = [];
  const notFound = (name: string): Error => Object.assign(new Error(`queryA ENOTFOUND ${name}`), { code: 'ENOTFOUND' });
  return {
    asked,
    async lookup(host) { asked.push(`A ${host}`); const a = hosts[host]; if (a === undefined) throw notFound(host); return a; },
    async resolveSrv(name) { asked.push(`SRV ${name}`); const r = srv[name]; if (r === undefined) throw notFound(name); return r; },
  };
}

t.test('resolution table', async (t) => {
  const api = fakeDns({
    'sip.example': [{ address: '2001:db8::1', family: 6 }, { address: '192.0.2.1', family: 4 }],
    'a.example': [{ address: '192.0.2.10', family: 4 }],
    'b.example': [{ address: '192.0.2.20', family: 4 }],
    'v6only.example': [{ address: '2001:db8::6', family: 6 }],
  }, {
    '_sip._udp.srv.example': [
      { name: 'b.example', port: 5070, priority: 20, weight: 100 },
      { name: 'a.example', port: 5062, priority: 10, weight: 5 },
    ],
  });
  const r = dnsResolver(api);
  t.same(await r.resolve('192.0.2.7', null, [4]), { target: { address: '192.0.2.7', port: 5060, family: 4 }, error: null }, 'IP literal: no DNS');
  t.same(await r.resolve('2001:db8::9', 5080, [6, 4]), { target: { address: '2001:db8::9', port: 5080, family: 6 }, error: null });
  t.same(api.asked, [], 'literals asked nothing');
  t.same(await r.resolve('sip.example', 5080, [4, 6]), { target: { address: '192.0.2.1', port: 5080, family: 4 }, error: null }, 'port given: A/AAAA only, our socket family first');
  t.same(api.asked, ['A sip.example']);
  t.same(await r.resolve('srv.example', null, [4]), { target: { address: '192.0.2.10', port: 5062, family: 4 }, error: null }, 'no port: SRV, lowest priority first');
  t.same(await r.resolve('sip.example', null, [6]), { target: { address: '2001:db8::1', port: 5060, family: 6 }, error: null }, 'no SRV: A/AAAA on 5060');
  t.same(await r.resolve('v6only.example', 5060, [4]), { target: null, error: 'DNS failure: v6only.example not resolved (only IPv6 addresses, no socket of that family)' });
  t.same(await r.resolve('nowhere.example', 5060, [4]), { target: null, error: 'DNS failure: nowhere.example not resolved (ENOTFOUND)' });
});

t.test('real node:dns: localhost and a name that does not exist', async (t) => {
  const r = dnsResolver();
  t.same(await r.resolve('localhost', 5090, [4]), { target: { address: '127.0.0.1', port: 5090, family: 4 }, error: null });
  const missing = await r.resolve('nowhere.invalid', 5060, [4]);
  t.equal(missing.target, null);
  t.match(missing.error, /^DNS failure: nowhere\.invalid not resolved/);
});

t.test('the source address toward a target (wildcard listen sockets)', async (t) => {
  t.equal(await routeSourceAddress({ address: '127.0.0.1', port: 9, family: 4 }), '127.0.0.1');
  t.equal(await routeSourceAddress({ address: '127.0.0.2', port: 9, family: 4 }), '127.0.0.1', 'loopback route');
});
