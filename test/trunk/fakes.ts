// Test doubles for the trunk component: a SipEndpoint that records what is sent and lets the test
// answer it, a Config built directly (so retry delays below the YAML range are allowed), a logger
// whose lines the test can read, and a temporary store.
import type { RemoteInfo } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SipMessage, parse } from '../../src/sip/index.js';
import type { LocalSocket, SipEndpoint } from '../../src/sip/endpoint.js';
import type { Config, Params, Trunk } from '../../src/config/types.js';
import { defaultParams } from '../../src/config/index.js';
import { StoreFlush, openStore, type Store } from '../../src/store/index.js';
import type { ServiceContext } from '../../src/component.js';
import type { TrunkClock } from '../../src/trunk/index.js';

export interface Sent {
  readonly atMs: number;
  readonly socketIndex: number;
  readonly text: string;
  readonly port: number;
  readonly address: string;
}

type Handler = (msg: SipMessage, rinfo: RemoteInfo, socketIndex: number) => void;

/** The header line `name: value` of a request text (first one), or null. */
export function header(text: string, name: string): string | null {
  const re = new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi');
  const m = re.exec(text);
  return m === null ? null : m[1]!.replace(/\r$/, '');
}

export function headers(text: string, name: string): string[] {
  const re = new RegExp(`^${name}:[ \\t]*(.*)$`, 'gmi');
  return [...text.matchAll(re)].map((m) => m[1]!.replace(/\r$/, ''));
}

export class FakeEndpoint implements SipEndpoint {
  readonly sent: Sent[] = [];
  private readonly handlers = new Map<string, Handler>();
  private readonly msg = new SipMessage();

  constructor(
    private readonly clock: TrunkClock,
    readonly sockets: LocalSocket[] = [{ index: 0, address: '127.0.0.1', port: 5070, family: 4 }],
  ) {}

  send(socketIndex: number, data: Buffer, port: number, address: string): void {
    this.sent.push({ atMs: this.clock.nowMs(), socketIndex, text: data.toString('latin1'), port, address });
  }
  expect(branch: string, onResponse: Handler): void {
    if (this.handlers.has(branch)) throw new Error(`branch ${branch} expected twice`);
    this.handlers.set(branch, onResponse);
  }
  release(branch: string): void { this.handlers.delete(branch); }
  get expecting(): number { return this.handlers.size; }

  /** REGISTERs sent (retransmissions included). */
  registers(): Sent[] { return this.sent.filter((s) => s.text.startsWith('REGISTER ')); }
  /** Distinct REGISTER requests (by branch), first transmission of each. */
  requests(): Sent[] {
    const seen = new Set<string>();
    return this.registers().filter((s) => {
      const b = branchOf(s.text);
      if (seen.has(b)) return false;
      seen.add(b);
      return true;
    });
  }
  last(): Sent {
    const r = this.registers();
    if (r.length === 0) throw new Error('nothing sent');
    return r[r.length - 1]!;
  }

  /**
   * Answers the last REGISTER (or `to`) with a response built from its Via/From/To/Call-ID/CSeq.
   * `via` is appended to the Via (e.g. `;received=203.0.113.9;rport=40000`).
   */
  respond(status: number, phrase: string, extra: readonly string[] = [], opts: { to?: Sent; via?: string } = {}): void {
    const req = opts.to ?? this.last();
    const via = header(req.text, 'Via')!.replace(/;rport(?=;|$)/, opts.via === undefined ? ';rport=5070' : '') + (opts.via ?? '');
    const lines = [
      `SIP/2.0 ${status} ${phrase}`,
      `Via: ${via}`,
      `From: ${header(req.text, 'From')}`,
      `To: ${header(req.text, 'To')};tag=upstream1`,
      `Call-ID: ${header(req.text, 'Call-ID')}`,
      `CSeq: ${header(req.text, 'CSeq')}`,
      ...extra,
      'Content-Length: 0', '', '',
    ];
    this.deliver(Buffer.from(lines.join('\r\n'), 'latin1'), req);
  }

  deliver(buf: Buffer, req: Sent): void {
    const failure = parse(this.msg, buf);
    if (failure !== null) throw new Error(`fake response does not parse: ${failure}`);
    const handler = this.handlers.get(branchOf(req.text));
    if (handler === undefined) return; // released: a late response is dropped, as the real endpoint does
    handler(this.msg, { address: req.address, port: req.port, family: 'IPv4', size: buf.length }, req.socketIndex);
  }
}

export function branchOf(text: string): string {
  return /branch=([^;\s]+)/.exec(header(text, 'Via') ?? '')?.[1] ?? '';
}

export function cseqOf(text: string): number {
  return Number((header(text, 'CSeq') ?? '').split(' ')[0]);
}

export function trunk(over: Partial<Trunk> = {}): Trunk {
  return {
    name: 'carrier-a', registrar: '127.0.0.1', port: 25060, proxy: null, username: '4420000000', authUser: '',
    password: 'secret', expiresS: null, enabled: true, domain: 'upstream.example', allowMd5WithoutQop: false, ...over,
  };
}

export function config(trunks: readonly Trunk[], params: Partial<Params> = {}, dataDir = '/tmp'): Config {
  return {
    file: '/tmp/sipreg-test.yaml',
    sip: { listen: [], realm: 'sipreg', domains: [], userAgent: 'sipreg/test' },
    acl: { allow: [], deny: [] },
    dataDir,
    logLevel: 'debug',
    metricsTextfile: null,
    params: { ...defaultParams, uaRetryDelayS: 30, uaKeepaliveIntervalS: 0, ...params },
    accounts: [],
    trunks,
    areas: [],
  };
}

export interface LogLine { level: number; msg: string; [k: string]: unknown }

export interface TestContext extends ServiceContext {
  readonly lines: LogLine[];
  setConfig(c: Config): void;
}

const stores: Store[] = [];

export function context(initial: Config): TestContext {
  const store = openStore(mkdtempSync(join(tmpdir(), 'sipreg-trunk-')));
  stores.push(store);
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write(s: string) { lines.push(JSON.parse(s) as LogLine); } });
  let current = initial;
  return { store, writes: new StoreFlush(store, initial.params.storeFlushIntervalS), log, lines, config: () => current, setConfig: (c) => { current = c; } };
}

export async function closeStores(): Promise<void> {
  for (const s of stores.splice(0)) {
    await s.close();
    rmSync(s.dataDir, { recursive: true, force: true });
  }
}
