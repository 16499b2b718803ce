// Benchmark of src/sip: parse + respond for a typical digest REGISTER from a phone.
//
// Run from the repo root (tap's TypeScript loader is already installed as a dev dependency):
//   node --import ./node_modules/@tapjs/typescript/dist/esm/import.mjs bench/sip/parse.bench.ts
// It re-runs itself under `--expose-gc --max-semi-space-size=64` to measure heap bytes per operation,
// prints one line per case and appends a JSON line to bench/results/sip-parse.json.
//
// Cases:
//   parse                    parse() of the REGISTER
//   parse+respond            parse, a 200 OK with Contact and Date written into a slot buffer, responseTarget
//   parse+tx+respond         the same through the server transaction cache (receive + complete)
//   parse+digest+respond     the same plus parsing Authorization and verifying the MD5 digest (node:crypto)
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  SipMessage, parse, ResponseWriter, responseTarget, ServerTransactions, DigestParams, parseDigestHeader, verifyDigest,
  computeHa1, computeHa2, computeResponse, DigestAlgorithm, Hdr, type ResponseTarget,
} from '../../src/sip/index.js';
import { limits } from '../../src/limits.js';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const child = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', '--max-semi-space-size=64', fileURLToPath(import.meta.url)],
    { stdio: 'inherit' });
  process.exit(child.status ?? 1);
}

const OPS = 200_000;
const BATCH = 10_000;
const realm = 'sipreg';
const password = 'secret';

/** 1000 distinct phones, each with a correct MD5 digest: the registrar's steady state. */
function makeInputs(): { bufs: Buffer[]; ha1s: string[] } {
  const bufs: Buffer[] = [];
  const ha1s: string[] = [];
  for (let i = 0; i < 1000; i++) {
    const user = String(1000 + i);
    const nonce = `6f1c2a0b5d3e4f60${i.toString(16)}`;
    const ha1 = computeHa1(DigestAlgorithm.MD5, user, realm, password);
    const response = computeResponse(DigestAlgorithm.MD5, ha1, nonce, '00000001', 'a1b2c3d4', 'auth',
      computeHa2(DigestAlgorithm.MD5, 'REGISTER', 'sip:sipreg.example'));
    ha1s.push(ha1);
    bufs.push(Buffer.from([
      'REGISTER sip:sipreg.example SIP/2.0',
      `Via: SIP/2.0/UDP 192.168.1.${20 + (i % 200)}:5060;branch=z9hG4bK-524287-1---${i.toString(16).padStart(8, '0')};rport`,
      'Max-Forwards: 70',
      `Contact: <sip:${user}@192.168.1.20:5060;rinstance=4f6a1f7e;transport=UDP>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000b82a1c2d3>";reg-id=1`,
      `To: <sip:${user}@sipreg.example>`,
      `From: "Phone ${user}" <sip:${user}@sipreg.example>;tag=8c0a54d1`,
      `Call-ID: NjZlYzQ2ZDY1ZTk5ZmM3Zjg0MzI1-${i}`,
      'CSeq: 2 REGISTER',
      'Expires: 3600',
      'Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE',
      'Supported: replaces, outbound, path',
      'User-Agent: Grandstream GXP1625 1.0.11.23',
      `Authorization: Digest username="${user}",realm="${realm}",nonce="${nonce}",uri="sip:sipreg.example",response="${response}",algorithm=MD5,cnonce="a1b2c3d4",qop=auth,nc=00000001`,
      'Content-Length: 0',
      '', '',
    ].join('\r\n')));
  }
  return { bufs, ha1s };
}

const { bufs, ha1s } = makeInputs();
const msg = new SipMessage();
const writer = new ResponseWriter();
const out = Buffer.alloc(limits.responseSizeMax);
const target: ResponseTarget = { address: '', port: 0 };
const tx = new ServerTransactions();
const digest = new DigestParams();
const rinfo = { address: '203.0.113.5', port: 40000, family: 'IPv4', size: 0 };
const date = 'Sat, 13 Nov 2010 23:29:00 GMT';
let sink = 0;

function respond(i: number): number {
  const n = writer.begin(out, msg, 200, 'OK', rinfo)
    .contact('<sip:1001@192.168.1.20:5060;rinstance=4f6a1f7e;transport=UDP>', 3600).header('Date', date).finish();
  if (typeof n === 'string') throw new Error(n);
  responseTarget(msg, rinfo, target);
  sink += n + target.port + i;
  return n;
}

const cases: Array<[string, (i: number) => void]> = [
  ['parse', (i) => { if (parse(msg, bufs[i % 1000]!) !== null) throw new Error('parse'); sink += msg.cseq; }],
  ['parse+respond', (i) => { if (parse(msg, bufs[i % 1000]!) !== null) throw new Error('parse'); respond(i); }],
  ['parse+tx+respond', (i) => {
    if (parse(msg, bufs[i % 1000]!) !== null) throw new Error('parse');
    if (tx.receive(msg, rinfo, i) !== 'new') { tx.sweep(Number.MAX_SAFE_INTEGER); tx.receive(msg, rinfo, i); }
    tx.complete(tx.handle, out, respond(i), i);
  }],
  ['parse+digest+respond', (i) => {
    if (parse(msg, bufs[i % 1000]!) !== null) throw new Error('parse');
    const h = msg.nextHeader(Hdr.Authorization, -1);
    if (parseDigestHeader(digest, msg, h) !== null || !verifyDigest(digest, 'REGISTER', ha1s[i % 1000]!)) throw new Error('digest');
    respond(i);
  }],
];

const results: Record<string, { opsPerS: number; heapBytesPerOp: number; nsPerOp: number }> = {};
for (const [name, fn] of cases) {
  for (let i = 0; i < 50_000; i++) fn(i); // warm up
  let allocated = 0;
  let elapsedNs = 0n;
  for (let done = 0; done < OPS; done += BATCH) {
    gc!();
    const heapBefore = process.memoryUsage().heapUsed;
    const t0 = process.hrtime.bigint();
    for (let i = done; i < done + BATCH; i++) fn(i);
    elapsedNs += process.hrtime.bigint() - t0;
    allocated += Math.max(0, process.memoryUsage().heapUsed - heapBefore);
  }
  const nsPerOp = Number(elapsedNs) / OPS;
  results[name] = { opsPerS: Math.round(1e9 / nsPerOp), heapBytesPerOp: Math.round(allocated / OPS * 10) / 10, nsPerOp: Math.round(nsPerOp) };
  console.log(`${name.padEnd(22)} ${results[name].opsPerS.toLocaleString('en-US').padStart(10)} ops/s  ${String(results[name].nsPerOp).padStart(6)} ns/op  ${String(results[name].heapBytesPerOp).padStart(7)} heap B/op`);
}
if (sink === 0) throw new Error('unreachable');

const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, arch: process.arch, node: process.version, platform: process.platform };
console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.arch}; node ${machine.node}; ${bufs[0]!.length} B REGISTER; ${OPS} ops per case`);
const dir = fileURLToPath(new URL('../results/', import.meta.url));
mkdirSync(dir, { recursive: true });
appendFileSync(dir + 'sip-parse.json', JSON.stringify({ bench: 'sip-parse', at: new Date().toISOString(), machine, ops: OPS, registerBytes: bufs[0]!.length, results }) + '\n');
