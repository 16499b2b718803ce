// Issue 13 item 9, IPv6: a /64 is one source for the rate limit and the lockouts. Loopback has only ::1,
// so the scenario (test/e2e/protection-ipv6.inner.ts, a tap test of its own) runs in a fresh network
// namespace (`unshare --net --map-root-user`) whose lo carries addresses of three /64s; the service,
// its peers and `sipreg lockouts` all run in there, and nothing outside it is touched.
import t from 'tap';
import { fileURLToPath } from 'node:url';

const inner = fileURLToPath(new URL('./protection-ipv6.inner.ts', import.meta.url));
const addresses = [
  '2001:db8:9::1',                                                            // the service
  ...['a', 'b', 'c', 'd', 'e', 'f'].map((h) => `2001:db8:1:2::${h}`),          // one /64: rate
  '2001:db8:1:3::a',                                                          // its neighbour /64
  ...['a', 'b', 'c', 'd'].map((h) => `2001:db8:1:4::${h}`),                    // another: lockout
];
const setup = ['ip link set lo up', ...addresses.map((a) => `ip -6 addr add ${a}/64 dev lo nodad`)].join(' && ');

t.spawn('unshare', ['--net', '--map-root-user', 'sh', '-c', `${setup} && exec "$0" "$@"`,
  process.execPath, ...process.execArgv, inner], { env: process.env }, 'IPv6 sources as /64s, in a network namespace');
