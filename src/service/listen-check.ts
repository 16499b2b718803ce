/**
 * Whether a reloaded config's `sip.listen` can be bound. The service keeps its sockets on a
 * reload (a new listen takes effect at the next restart), so a config naming an address this host does
 * not have, or a port another process holds, would otherwise be accepted and fail only at that restart,
 * leaving the box without phones. Each address the running sockets do not already hold is bound once,
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

/** The error of binding `a` once, exclusively (closed at once); null when it binds. */
function bindOnce(a: ListenAddress): Promise<NodeJS.ErrnoException | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket({ type: a.family === 6 ? 'udp6' : 'udp4', ipv6Only: a.family === 6 });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.close();
      resolve(err);
    });
    socket.bind({ address: a.host, port: a.port, exclusive: true }, () => socket.close(() => resolve(null)));
  });
}

function why(a: ListenAddress, err: NodeJS.ErrnoException): string {
  return `sip.listen ${a.text} cannot be bound: ${err.code ?? err.message}` +
    (err.code === 'EADDRNOTAVAIL' ? ' (no such address on this host)' :
      err.code === 'EADDRINUSE' ? ' (another process holds the port)' :
        err.code === 'EACCES' ? ' (ports below 1024 need CAP_NET_BIND_SERVICE)' : '');
}

/**
 * null when every address of `next` not in `own` binds; else why the first one does not. An address our
 * own sockets cover (0.0.0.0:5060 running, 192.0.2.1:5060 pushed) is still bound once: the kernel checks
 * the address before the port, so one this host does not have fails with EADDRNOTAVAIL whatever holds
 * the port, and only EADDRINUSE is put down to our own sockets.
 */
export async function listenProblem(next: readonly ListenAddress[], own: readonly ListenAddress[]): Promise<string | null> {
  for (const a of next) {
    if (own.some((o) => o.text === a.text)) continue;
    const err = await bindOnce(a);
    if (err === null || (err.code === 'EADDRINUSE' && coveredByOwn(a, own))) continue;
    return why(a, err);
  }
  return null;
}
