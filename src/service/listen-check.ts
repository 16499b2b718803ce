/**
 * Whether a reloaded config's `sip.listen` can be bound. The service keeps its sockets on a
 * reload (a new listen takes effect at the next restart), so a config naming an address this host does
 * not have, or a port another process holds, would otherwise be accepted and fail only at that restart,
 * leaving the box without phones. Each address the running sockets do not already cover is bound once,
 * exclusively, and closed at once; the first that fails is the reason the reload is refused.
 */
import dgram from 'node:dgram';
import type { ListenAddress } from '../sip/listen.js';

/** Whether `a` may be held by one of our own sockets now (same port, same or wildcard address): binding
 *  it beside them would fail with EADDRINUSE although it is free once they close at the restart. */
function coveredByOwn(a: ListenAddress, own: readonly ListenAddress[]): boolean {
  return own.some((o) => o.port === a.port && o.family === a.family &&
    (o.host === a.host || o.host === '0.0.0.0' || o.host === '::' || a.host === '0.0.0.0' || a.host === '::'));
}

function bindOnce(a: ListenAddress): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: a.family === 6 ? 'udp6' : 'udp4', ipv6Only: a.family === 6 });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.close();
      resolve(`sip.listen ${a.text} cannot be bound: ${err.code ?? err.message}` +
        (err.code === 'EADDRNOTAVAIL' ? ' (no such address on this host)' :
          err.code === 'EADDRINUSE' ? ' (another process holds the port)' :
            err.code === 'EACCES' ? ' (ports below 1024 need CAP_NET_BIND_SERVICE)' : ''));
    });
    socket.bind({ address: a.host, port: a.port, exclusive: true }, () => socket.close(() => resolve(null)));
  });
}

/** null when every address of `next` not in `own` binds; else why the first one does not. */
export async function listenProblem(next: readonly ListenAddress[], own: readonly ListenAddress[]): Promise<string | null> {
  for (const a of next) {
    if (own.some((o) => o.text === a.text) || coveredByOwn(a, own)) continue;
    const problem = await bindOnce(a);
    if (problem !== null) return problem;
  }
  return null;
}
