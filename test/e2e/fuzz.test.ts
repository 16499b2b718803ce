// Seeded mutation fuzzing of the running service: hundreds of thousands of corrupted REGISTERs (and a
// few other methods) over UDP. The service must not crash, must keep answering a probe (no hang), and
// its RSS must stay bounded. Reproduce a run with SIPREG_FUZZ_SEED=<seed> (printed in the test name).
import t from 'tap';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { accountsYaml, startService } from './service.js';
import { SipClient } from '../registrar/sipclient.js';

const SEED = Number(process.env['SIPREG_FUZZ_SEED'] ?? 20261125);
const COUNT = Number(process.env['SIPREG_FUZZ_COUNT'] ?? 300_000);

/** mulberry32: small, fast, seedable. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

const bases = [
  (n: string, p: number) => `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${p};branch=z9hG4bK${n}x;rport\r\nMax-Forwards: 70\r\n` +
    `From: "Fuzz \\"Q\\"" <sip:${n}@127.0.0.1>;tag=a1\r\nTo: <sip:${n}@127.0.0.1>\r\nCall-ID: fz${n}@h\r\nCSeq: 7 REGISTER\r\n` +
    `Contact: <sip:${n}@127.0.0.1:${p};transport=udp>;expires=600;q=0.5, <sip:${n}@10.0.0.1>;+sip.instance="<urn:uuid:1>";reg-id=1\r\n` +
    `Expires: 3600\r\nUser-Agent: fuzz\r\nContent-Length: 0\r\n\r\n`,
  (n: string, p: number) => `REGISTER sip:127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 127.0.0.1:${p};branch=z9hG4bK${n}y\r\nf: <sip:${n}@127.0.0.1>;tag=b\r\n` +
    `t: sip:${n}@127.0.0.1\r\ni: c${n}\r\nCSeq: 2 REGISTER\r\nm: *\r\nExpires: 0\r\nl: 0\r\n\r\n`,
  (n: string, p: number) => `REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${p};branch=z9hG4bK${n}z;rport\r\nFrom: <sip:${n}@127.0.0.1>;tag=c\r\n` +
    `To: <sip:${n}@127.0.0.1>\r\nCall-ID: d${n}\r\nCSeq: 3 REGISTER\r\nContact: <sip:${n}@127.0.0.1:${p}>\r\n` +
    `Authorization: Digest username="${n}", realm="sipreg", nonce="AaISsatLAAHss6kuuzEYL0Ol", uri="sip:127.0.0.1", response="d29ff91e88c0b7c51e05803117481653", algorithm=MD5, qop=auth, nc=00000001, cnonce="6b8b4567"\r\n` +
    `Require: path\r\nContent-Length: 0\r\n\r\n`,
  (n: string, p: number) => `OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:${p};branch=z9hG4bK${n}o\r\nFrom: <sip:${n}@127.0.0.1>;tag=d\r\n` +
    `To: <sip:127.0.0.1>\r\nCall-ID: o${n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 4\r\n\r\nbody`,
];
const junk = ['\r\n', ':', ';', ',', '"', '<', '>', '\\', ' ', '\t', '\r\n ', '=', '@', '[', ']', '%00', '\u00ff', '99999999999999999999',
  '-1', 'Via: SIP/2.0/UDP x\r\n', 'Contact: *\r\n', 'Content-Length: 99999\r\n', 'CSeq: 1 INVITE\r\n', '\r\n\r\n', 'sip:', ';expires=',
  'Authorization: Digest\r\n', 'Expires: 4294967296\r\n'];

function mutate(base: Buffer, r: () => number): Buffer {
  let b = Buffer.from(base);
  const rounds = 1 + Math.floor(r() * 4);
  for (let k = 0; k < rounds; k++) {
    const pos = Math.floor(r() * b.length);
    switch (Math.floor(r() * 7)) {
      case 0: b[pos] = Math.floor(r() * 256); break;                                            // byte flip
      case 1: b[pos] = b[pos]! ^ (1 << Math.floor(r() * 8)); break;                             // bit flip
      case 2: b = Buffer.concat([b.subarray(0, pos), Buffer.from(junk[Math.floor(r() * junk.length)]!), b.subarray(pos)]); break;
      case 3: b = Buffer.concat([b.subarray(0, pos), b.subarray(Math.min(b.length, pos + 1 + Math.floor(r() * 20)))]); break; // delete
      case 4: b = b.subarray(0, pos); break;                                                     // truncate
      case 5: { const end = Math.min(b.length, pos + Math.floor(r() * 80)); b = Buffer.concat([b.subarray(0, end), b.subarray(pos, end), b.subarray(end)]); break; } // duplicate
      case 6: b = Buffer.concat([b, Buffer.alloc(Math.floor(r() * 400), Math.floor(r() * 256))]); break; // trailing garbage
    }
  }
  return b;
}

t.test(`fuzz: ${COUNT} mutated datagrams, seed ${SEED}`, async (t) => {
  const numbers = Array.from({ length: 50 }, (_, i) => String(5000 + i));
  const svc = await startService('params:\n  SS_REGISTER_RATE_PER_IP: 0\n  SS_REGISTER_SCANNER_NUMBERS: 0\n  SS_ENDPOINT_REGISTER_RETRY: 0\n' + accountsYaml(numbers));
  t.teardown(() => svc.kill('SIGKILL'));
  const pid = svc.child.pid!;
  const probe = await SipClient.open(svc.port);
  t.teardown(() => probe.close());
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  sock.on('message', () => { /* answers are not checked; only that the service lives */ });
  t.teardown(() => sock.close());
  const port = sock.address().port;
  const r = rng(SEED);
  const baseBufs = numbers.flatMap((n) => bases.map((f) => Buffer.from(f(n, port))));
  const rss: number[] = [];
  // A probe may be lost in a full socket buffer (UDP under overload): it is retried, a hang is not.
  const probeOnce = async (i: number): Promise<void> => {
    let res = null;
    for (let attempt = 0; attempt < 5 && res === null; attempt++) {
      res = await probe.register({ user: '5000', contacts: [], cseq: 100 + i * 10 + attempt }, 2000).catch(() => null);
    }
    if (res === null) {
      throw new Error(`no answer to the probe after ${i} datagrams (exit ${svc.child.exitCode} ${svc.child.signalCode}); ` +
        `service log tail: ${svc.log.join('').split('\n').slice(-15).join('\n')}`);
    }
    if (res.status !== 401) throw new Error(`probe after ${i}: ${res.status}`); // the digest challenge: alive and deciding
  };
  const started = Date.now();
  for (let i = 0; i < COUNT; i += 1000) {
    for (let k = 0; k < 1000; k++) {
      const base = baseBufs[Math.floor(r() * baseBufs.length)]!;
      sock.send(mutate(base, r), svc.port, '127.0.0.1');
    }
    await new Promise((res) => setTimeout(res, 20)); // ~50,000 datagrams/s
    if (i % 50_000 === 0) {
      await probeOnce(i);
      rss.push(rssKiB(pid));
    }
  }
  await probeOnce(COUNT);
  rss.push(rssKiB(pid));
  t.equal(svc.child.exitCode, null, 'still running');
  t.equal(svc.child.signalCode, null);
  t.pass(`${COUNT} datagrams in ${Date.now() - started} ms; RSS KiB ${rss.join(' ')}`);
  const maxRss = Math.max(...rss);
  t.ok(maxRss < 256 * 1024, `RSS bounded (max ${maxRss} KiB)`);
  t.ok(rss.at(-1)! - rss[1]! < 64 * 1024, `no steady growth after warm-up (${rss[1]} -> ${rss.at(-1)} KiB)`);
  t.notOk(svc.log.join('').includes('internal error'), 'no internal error logged');
});
