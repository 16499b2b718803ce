// A scripted upstream registrar on a loopback UDP socket, for tests that run the real binary (unlike
// fakes.ts, which answers the state machine in-process). Every REGISTER that arrives is logged; the
// test's `answer` decides the response per request (by the To user), so a test can play a provider
// that grants absurd expiries, challenges without qop, or simply accepts.
import dgram from 'node:dgram';
import { header } from './fakes.js';

export interface UpstreamRequest {
  readonly atMs: number;
  readonly text: string;
  readonly user: string;                  // the To user
  readonly branch: string;
  readonly cseq: number;
  readonly expires: number | null;        // the Expires header
  readonly contact: string | null;        // the first Contact value, as sent
  readonly authorization: string | null;
}

export interface UpstreamAnswer {
  readonly status: number;
  readonly phrase: string;
  readonly headers?: readonly string[];
}

/** The answer to one request, given the requests of the same user so far (this one last); null: no answer. */
export type Answerer = (req: UpstreamRequest, sameUser: readonly UpstreamRequest[]) => UpstreamAnswer | null;

export class FakeUpstream {
  readonly requests: UpstreamRequest[] = [];

  private constructor(private readonly socket: dgram.Socket, readonly port: number, private readonly answer: Answerer) {
    socket.on('message', (buf, rinfo) => this.onMessage(buf, rinfo));
  }

  static async open(answer: Answerer): Promise<FakeUpstream> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new FakeUpstream(socket, socket.address().port, answer);
  }

  /** One user's REGISTER transactions (first transmission of each branch), in arrival order. */
  registers(user: string): UpstreamRequest[] {
    const seen = new Set<string>();
    return this.requests.filter((r) => {
      if (r.user !== user || seen.has(r.branch)) return false;
      seen.add(r.branch);
      return true;
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(buf: Buffer, rinfo: dgram.RemoteInfo): void {
    const text = buf.toString('latin1');
    if (!text.startsWith('REGISTER ')) return; // CRLF keepalives
    const to = header(text, 'To') ?? '';
    const expires = header(text, 'Expires');
    const req: UpstreamRequest = {
      atMs: Date.now(),
      text,
      user: /sip:([^@;>]+)@/.exec(to)?.[1] ?? '',
      branch: /branch=([^;\s]+)/.exec(header(text, 'Via') ?? '')?.[1] ?? '',
      cseq: Number((header(text, 'CSeq') ?? '').split(' ')[0]),
      expires: expires === null ? null : Number(expires),
      contact: header(text, 'Contact')?.split(',')[0]?.trim() ?? null,
      authorization: header(text, 'Authorization'),
    };
    this.requests.push(req);
    const retransmission = this.requests.filter((r) => r.branch === req.branch).length > 1;
    const sameUser = this.registers(req.user);
    const answer = this.answer(req, retransmission ? sameUser.slice(0, sameUser.findIndex((r) => r.branch === req.branch) + 1) : sameUser);
    if (answer === null) return;
    const via = header(text, 'Via')!.replace(/;rport(?=;|$)/, `;rport=${rinfo.port}`);
    const lines = [
      `SIP/2.0 ${answer.status} ${answer.phrase}`,
      `Via: ${via}`,
      `From: ${header(text, 'From')}`,
      `To: ${to};tag=up${req.user}`,
      `Call-ID: ${header(text, 'Call-ID')}`,
      `CSeq: ${header(text, 'CSeq')}`,
      ...(answer.headers ?? []),
      'Content-Length: 0', '', '',
    ];
    this.socket.send(Buffer.from(lines.join('\r\n'), 'latin1'), rinfo.port, rinfo.address);
  }
}
