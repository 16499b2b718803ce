// Test-only SipEndpoint over sip/'s SipTransport (the service's own, service/sip.ts, also dispatches
// requests to the registrar; the trunk tests need only sends and responses by branch). It logs every
// datagram sent and received with its time, which is what the tests measure "on the wire".
import type { RemoteInfo } from 'node:dgram';
import { SipMessage, SipTransport, parse } from '../../src/sip/index.js';
import type { LocalSocket, SipEndpoint } from '../../src/sip/endpoint.js';
import { listenAt } from '../sip/helpers.js';

export interface WireEntry {
  readonly atMs: number;       // performance.now()-based, ms
  readonly dir: 'out' | 'in';
  readonly text: string;
  readonly peer: string;       // "ip:port"
}

type Handler = (msg: SipMessage, rinfo: RemoteInfo, socketIndex: number) => void;

export class TransportEndpoint implements SipEndpoint {
  readonly sockets: LocalSocket[] = [];
  readonly wire: WireEntry[] = [];
  private readonly expects = new Map<string, Handler>();
  private readonly msg = new SipMessage();

  private constructor(private readonly transport: SipTransport) {}

  static async open(listen: readonly string[]): Promise<TransportEndpoint> {
    const transport = new SipTransport(listenAt(...listen));
    const ep = new TransportEndpoint(transport);
    transport.onDatagram((buf, rinfo, socketIndex) => ep.onDatagram(buf, rinfo, socketIndex));
    await transport.start();
    for (let i = 0; i < transport.socketCount; i++) {
      const a = transport.addresses[i]!;
      ep.sockets.push({ index: i, address: a.host, port: transport.localAddress(i).port, family: a.family });
    }
    return ep;
  }

  send(socketIndex: number, data: Buffer, port: number, address: string): void {
    const slot = this.transport.acquire();
    if (slot === null) return;
    data.copy(slot.buf, 0, 0, data.length);
    this.wire.push({ atMs: performance.now(), dir: 'out', text: data.toString('latin1'), peer: `${address}:${port}` });
    this.transport.send(slot, data.length, port, address, socketIndex);
  }

  expect(branch: string, onResponse: Handler): void { this.expects.set(branch, onResponse); }
  release(branch: string): void { this.expects.delete(branch); }

  private onDatagram(buf: Buffer, rinfo: RemoteInfo, socketIndex: number): void {
    this.wire.push({ atMs: performance.now(), dir: 'in', text: buf.toString('latin1'), peer: `${rinfo.address}:${rinfo.port}` });
    if (parse(this.msg, buf) !== null || this.msg.isRequest) return;
    this.expects.get(this.msg.via.branch())?.(this.msg, rinfo, socketIndex);
  }

  /** REGISTERs sent, first transmissions only. */
  registers(): WireEntry[] {
    const seen = new Set<string>();
    return this.wire.filter((w) => {
      if (w.dir !== 'out' || !w.text.startsWith('REGISTER ')) return false;
      const b = /branch=([^;\s]+)/.exec(w.text)?.[1] ?? '';
      if (seen.has(b)) return false;
      seen.add(b);
      return true;
    });
  }

  responses(): WireEntry[] { return this.wire.filter((w) => w.dir === 'in' && w.text.startsWith('SIP/2.0 ')); }

  close(): Promise<void> { return this.transport.close(); }
}
