import type { RemoteInfo } from 'node:dgram';
import type { SipMessage } from './message.js';

/** One listen socket as bound. */
export interface LocalSocket {
  readonly index: number;
  readonly address: string;    // bound address ("0.0.0.0", "::", "127.0.0.1")
  readonly port: number;
  readonly family: 4 | 6;
}

/**
 * The service's SIP sockets as the parts that send requests of their own (trunk/ registrations,
 * registrar/ NAT keepalives) see them: they send from a listen socket and get the responses whose top
 * Via branch they registered. Requests arriving on the sockets go to the registrar; responses are routed
 * here by branch. Implemented by the service (service/sip.ts) over this folder's transport.
 */
export interface SipEndpoint {
  readonly sockets: readonly LocalSocket[];
  /** Sends bytes from a listen socket. Low-volume senders only: the data is copied. */
  send(socketIndex: number, data: Buffer, port: number, address: string): void;
  /** Routes responses whose top Via branch equals `branch` to `onResponse` until `release(branch)`. */
  expect(branch: string, onResponse: (msg: SipMessage, rinfo: RemoteInfo, socketIndex: number) => void): void;
  release(branch: string): void;
}
