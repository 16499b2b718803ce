/**
 * A listen address: the IP literal and UDP port one transport socket binds (`0.0.0.0:5060`, `[::]:5060`).
 * The one parser of listen text: the config file's reader words its refusals (config/net.ts), the
 * transport binds what it returns. Host names are refused: a socket binds to an address, and a name could
 * resolve differently after a reboot. IPv6 is always in brackets, since `2001:db8::1:5060` reads both ways.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface ListenAddress {
  readonly text: string;           // as written: "0.0.0.0:5060" or "[::]:5060"
  readonly host: string;           // without brackets
  readonly port: number;
  readonly family: 4 | 6;
}

/** Why a text is not a listen address: `form`, not IPv4:port or [IPv6]:port at all; `port`, a port that
 *  is not a plain decimal number in portMin..65535. */
export type ListenRefusal = 'form' | 'port';

/** A port in portMin..65535, decimal, no sign or leading zero; null otherwise. */
function listenPort(text: string, portMin: number): number | null {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return null;
  const port = Number(text);
  return port >= portMin && port <= 65535 ? port : null;
}

/**
 * `IPv4:port` or `[IPv6]:port`; the port is required. `portMin` 0 lets the system pick a free port (what
 * tests bind); the config file asks for 1, a port phones can be told. A bad port is reported before a bad
 * host. An IPv6 zone (`%eth0`) is refused: it names an interface of one boot.
 */
export function parseListenAddress(text: string, portMin = 1): ListenAddress | ListenRefusal {
  let host: string;
  let portText: string;
  let bracketed: boolean;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0 || text.charCodeAt(close + 1) !== 0x3a) return 'form';
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    bracketed = true;
  } else {
    const colon = text.indexOf(':');
    if (colon < 0 || text.indexOf(':', colon + 1) >= 0) return 'form';
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    bracketed = false;
  }
  const port = listenPort(portText, portMin);
  if (port === null) return 'port';
  if (!bracketed && isIPv4(host)) return { text, host, port, family: 4 };
  if (bracketed && isIPv6(host) && !host.includes('%')) return { text, host, port, family: 6 };
  return 'form';
}
