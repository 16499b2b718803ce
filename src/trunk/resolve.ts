/**
 * Where a trunk's REGISTER goes: the registrar (or the outbound proxy) resolved with node:dns, and the
 * local address our Contact names. RFC 3263 §4.2 for UDP: an IP literal is used as is; a name with a
 * port is resolved to A/AAAA; a name without a port is first looked up as `_sip._udp.<name>` SRV, and
 * when there is none, A/AAAA on port 5060.
 */
import dns from 'node:dns';
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { LocalSocket } from '../sip/endpoint.js';

export const SIP_DEFAULT_PORT = 5060;

export interface Target {
  readonly address: string;  // IP literal, no brackets
  readonly port: number;
  readonly family: 4 | 6;
}

export type ResolveResult =
  | { readonly target: Target; readonly error: null }
  | { readonly target: null; readonly error: string }; // operator words: what could not be found

export interface Resolver {
  /** `families`: the address families we have a listen socket for, in preference order. */
  resolve(host: string, port: number | null, families: readonly (4 | 6)[]): Promise<ResolveResult>;
}

/** "host:port", IPv6 in brackets (RFC 3986 §3.2.2), as `sipreg trunks` shows the registrar. */
export function hostPort(address: string, port: number): string {
  return isIP(address) === 6 ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The target of an IP literal, or null for a name that needs DNS. */
export function literalTarget(host: string, port: number | null): Target | null {
  const family = isIP(host);
  if (family === 0) return null;
  return { address: host, port: port ?? SIP_DEFAULT_PORT, family: family as 4 | 6 };
}

function errCode(err: unknown): string {
  if (err !== null && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return String(err);
}

/** The two node:dns calls used; tests pass a table. */
export interface DnsApi {
  lookup(host: string, options: { all: true; verbatim: boolean }): Promise<{ address: string; family: number }[]>;
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
}

async function lookupAddress(api: DnsApi, host: string, families: readonly (4 | 6)[]): Promise<{ address: string; family: 4 | 6 } | string> {
  try {
    // lookup() (getaddrinfo) also reads /etc/hosts, which installers expect to work for a registrar name.
    const all = await api.lookup(host, { all: true, verbatim: true });
    for (const family of families) {
      const hit = all.find((a) => a.family === family);
      if (hit !== undefined) return { address: hit.address, family };
    }
    return all.length === 0 ? 'no address' : `only IPv${all[0]!.family} addresses, no socket of that family`;
  } catch (err) {
    return errCode(err);
  }
}

/** node:dns, per RFC 3263 for UDP. */
export function dnsResolver(api: DnsApi = dns.promises): Resolver {
  return {
    async resolve(host, port, families) {
      const literal = literalTarget(host, port);
      if (literal !== null) return { target: literal, error: null };
      if (port === null) {
        let records: { name: string; port: number; priority: number; weight: number }[] = [];
        try {
          records = await api.resolveSrv(`_sip._udp.${host}`);
        } catch {
          records = []; // no SRV (ENOTFOUND/ENODATA): A/AAAA on 5060 below (RFC 3263 §4.2)
        }
        // Lowest priority first, then the heaviest (RFC 2782's weighted choice simplified: one trunk
        // sends one REGISTER stream, there is nothing to balance).
        records.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
        for (const srv of records) {
          const hit = await lookupAddress(api, srv.name, families);
          if (typeof hit !== 'string') return { target: { ...hit, port: srv.port }, error: null };
        }
        if (records.length > 0) return { target: null, error: `DNS failure: SRV _sip._udp.${host} targets have no usable address` };
      }
      const hit = await lookupAddress(api, host, families);
      if (typeof hit === 'string') return { target: null, error: `DNS failure: ${host} not resolved (${hit})` };
      return { target: { ...hit, port: port ?? SIP_DEFAULT_PORT }, error: null };
    },
  };
}

export function isWildcard(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '0:0:0:0:0:0:0:0';
}

/**
 * The source address the OS would use toward `target`: a throwaway UDP socket is connected (no packet
 * is sent, connect() on UDP only picks the route) and asked for its address. Used when the listen
 * socket is bound to a wildcard, so the Contact names an address the registrar can reach.
 */
export function routeSourceAddress(target: Target): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
    s.once('error', (err) => { s.close(); reject(err); });
    s.connect(target.port, target.address, () => {
      const local = s.address().address;
      s.close();
      resolve(local);
    });
  });
}

/** The listen socket to send from: the first of the target's family. */
export function socketFor(sockets: readonly LocalSocket[], family: 4 | 6): LocalSocket | null {
  return sockets.find((s) => s.family === family) ?? null;
}
