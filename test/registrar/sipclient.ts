// A small SIP-over-UDP client for the registrar's tests: builds REGISTERs, answers digest challenges
// with sip/'s own client code (buildAuthorization, the trunk's), and waits for responses by branch.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { DigestParams, buildAuthorization, challengeFrom, parseDigest } from '../../src/sip/index.js';

export interface Response {
  status: number;
  reason: string;
  text: string;
  headers: Map<string, string[]>;
  header(name: string): string | undefined;
  all(name: string): string[];
}

export function parseResponse(text: string): Response {
  const lines = text.split('\r\n');
  const m = /^SIP\/2\.0 (\d{3}) ?(.*)$/.exec(lines[0] ?? '');
  const headers = new Map<string, string[]>();
  for (const line of lines.slice(1)) {
    if (line === '') break;
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    headers.set(name, [...(headers.get(name) ?? []), line.slice(colon + 1).trim()]);
  }
  return {
    status: m === null ? 0 : Number(m[1]), reason: m === null ? '' : m[2]!, text, headers,
    header: (n) => headers.get(n.toLowerCase())?.[0],
    all: (n) => headers.get(n.toLowerCase()) ?? [],
  };
}

export interface RegisterOptions {
  user: string;
  domain?: string;           // To/From host and Request-URI; default 127.0.0.1
  ruri?: string;
  contacts?: string[];       // Contact header values; [] for a query; default one <sip:user@127.0.0.1:port>
  expires?: number | null;   // Expires header; null: none
  callId?: string;
  cseq?: number;
  branch?: string;
  authorization?: string;
  extra?: string[];          // more header lines
  toUser?: string;
  viaHost?: string;
}

export class SipClient {
  readonly socket: dgram.Socket;
  port = 0;
  private readonly waiting = new Map<string, (r: Response) => void>();
  readonly unmatched: Response[] = [];
  callId = `${randomBytes(8).toString('hex')}@test`;
  cseq = 0;

  private constructor(readonly host: string, readonly serverPort: number, readonly serverHost: string) {
    this.socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    this.socket.on('message', (buf) => {
      const r = parseResponse(buf.toString('utf8'));
      const via = r.header('via') ?? '';
      const branch = /branch=([^;,\s]+)/.exec(via)?.[1] ?? '';
      const w = this.waiting.get(branch);
      if (w !== undefined) { this.waiting.delete(branch); w(r); } else this.unmatched.push(r);
    });
  }

  static async open(serverPort: number, host = '127.0.0.1', serverHost = '127.0.0.1', port = 0): Promise<SipClient> {
    const c = new SipClient(host, serverPort, serverHost);
    await new Promise<void>((resolve) => c.socket.bind(port, host, resolve));
    c.port = c.socket.address().port;
    return c;
  }

  close(): void { this.socket.close(); }

  registerText(o: RegisterOptions): { text: string; branch: string } {
    const domain = o.domain ?? '127.0.0.1';
    const branch = o.branch ?? `z9hG4bK${randomBytes(8).toString('hex')}`;
    const cseq = o.cseq ?? ++this.cseq;
    const contacts = o.contacts ?? [`<sip:${o.user}@${this.host}:${this.port}>`];
    const lines = [
      `REGISTER ${o.ruri ?? `sip:${domain}`} SIP/2.0`,
      `Via: SIP/2.0/UDP ${o.viaHost ?? this.host}:${this.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:${o.user}@${domain}>;tag=${randomBytes(4).toString('hex')}`,
      `To: <sip:${o.toUser ?? o.user}@${domain}>`,
      `Call-ID: ${o.callId ?? this.callId}`,
      `CSeq: ${cseq} REGISTER`,
      ...contacts.map((c) => `Contact: ${c}`),
      ...(o.expires === null || o.expires === undefined ? [] : [`Expires: ${o.expires}`]),
      ...(o.authorization === undefined ? [] : [`Authorization: ${o.authorization}`]),
      'User-Agent: sipreg-test',
      ...(o.extra ?? []),
      'Content-Length: 0',
      '', '',
    ];
    return { text: lines.join('\r\n'), branch };
  }

  sendRaw(text: string | Buffer): void {
    this.socket.send(typeof text === 'string' ? Buffer.from(text) : text, this.serverPort, this.serverHost);
  }

  /** Sends and waits for the final response with this branch (provisional ones are not sent by us). */
  request(text: string | Buffer, branch: string, timeoutMs = 3000): Promise<Response> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(branch); reject(new Error(`no response for ${branch}`)); }, timeoutMs);
      this.waiting.set(branch, (r) => { clearTimeout(timer); resolve(r); });
      this.sendRaw(text);
    });
  }

  register(o: RegisterOptions, timeoutMs?: number): Promise<Response> {
    const { text, branch } = this.registerText(o);
    return this.request(text, branch, timeoutMs);
  }

  /** REGISTER → 401 → REGISTER with credentials; returns the final response (and the challenge). */
  async registerWithAuth(o: RegisterOptions & { password: string; username?: string }): Promise<{ first: Response; final: Response }> {
    const first = await this.register(o);
    if (first.status !== 401) return { first, final: first };
    const authorization = answerChallenge(first, o.username ?? o.user, o.password, o.ruri ?? `sip:${o.domain ?? '127.0.0.1'}`);
    const final = await this.register({ ...o, authorization });
    return { first, final };
  }
}

/** Authorization for the first WWW-Authenticate of `challenge` (or the one with `algorithm`). */
export function answerChallenge(challenge: Response, username: string, password: string, uri: string, nc = 1, algorithm?: string): string {
  const values = challenge.all('www-authenticate');
  const value = values.find((v) => algorithm === undefined || v.includes(`algorithm=${algorithm}`)) ?? values[0] ?? '';
  const buf = Buffer.from(value);
  const params = new DigestParams();
  const failure = parseDigest(params, buf, 0, buf.length);
  if (failure !== null) throw new Error(`bad challenge ${value}: ${failure}`);
  return buildAuthorization(challengeFrom(params), { username, password, method: 'REGISTER', uri, cnonce: randomBytes(8).toString('hex'), nc });
}
