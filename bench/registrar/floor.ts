// The floor of the throughput bench: the least a node:dgram program can do per registration on this
// machine. It answers a REGISTER without Authorization with a fixed 401 challenge and one with
// Authorization with a 200, copying Via/From/To/Call-ID/CSeq byte for byte; anything else gets a 200.
// No parsing beyond finding those lines, no digest check, no store, no transaction cache. SIPp's
// [authentication] computes a response against the fixed nonce and this program never checks it.
// What the throughput bench measures against it is node:dgram's own receive and send plus SIPp, on the
// same two cores: no registrar written in Node can go faster than this on the same harness.
//   node floor.mjs --port 5060
import dgram from 'node:dgram';

const port = Number(process.argv[process.argv.indexOf('--port') + 1]);
const socket = dgram.createSocket('udp4');
const slots: Buffer[] = [];
for (let i = 0; i < 256; i++) slots.push(Buffer.alloc(2048));
let next = 0;
const CRLF = Buffer.from('\r\n');
const copied = ['\r\nVia:', '\r\nFrom:', '\r\nTo:', '\r\nCall-ID:', '\r\nCSeq:'].map((h) => Buffer.from(h, 'latin1'));
const authorization = Buffer.from('\r\nAuthorization:', 'latin1');
const challenge = Buffer.from('WWW-Authenticate: Digest realm="floor", nonce="0123456789abcdef", qop="auth", algorithm=MD5\r\n' +
  'Content-Length: 0\r\n\r\n', 'latin1');
const ok = Buffer.from('Expires: 3600\r\nContent-Length: 0\r\n\r\n', 'latin1');

socket.on('message', (buf, rinfo) => {
  const out = slots[next = (next + 1) & 255]!;
  const isRegister = buf[0] === 0x52 && buf[1] === 0x45 && buf[2] === 0x47; // "REG"
  const challenged = isRegister && buf.indexOf(authorization) < 0;
  let n = out.write(challenged ? 'SIP/2.0 401 Unauthorized\r\n' : 'SIP/2.0 200 OK\r\n', 0, 'latin1');
  for (const h of copied) {
    const at = buf.indexOf(h);
    if (at < 0) continue;
    const end = buf.indexOf(CRLF, at + 2);
    if (end < 0) continue;
    n += buf.copy(out, n, at + 2, end + 2);
  }
  n += (challenged ? challenge : ok).copy(out, n);
  socket.send(out, 0, n, rinfo.port, rinfo.address);
});
socket.bind(port, '127.0.0.1');
// A clean exit on SIGTERM, as the service's, so `node --cpu-prof` writes its profile (bench/registrar/profile.ts --floor).
process.on('SIGTERM', () => process.exit(0));
