// A request whose top Via names port 0 and no rport (found by the fuzz test: the service died with
// ERR_SOCKET_BAD_PORT sending its answer). RFC 3261 §18.2.2 sends a response to the sent-by port; port 0
// is no destination, so the answer goes back to the port the request came from. The service stays up.
import t from 'tap';
import dgram from 'node:dgram';
import { accountsYaml, startService } from './service.js';

const service = await startService(accountsYaml(['1001']));
t.teardown(() => service.kill());

const sock = dgram.createSocket('udp4');
await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
t.teardown(() => sock.close());
const answers: string[] = [];
sock.on('message', (m) => answers.push(m.toString('latin1')));

function request(method: string, branch: string): Buffer {
  return Buffer.from(`${method} sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:0;branch=z9hG4bK${branch}\r\n` +
    `Max-Forwards: 70\r\nFrom: <sip:1001@127.0.0.1>;tag=a\r\nTo: <sip:1001@127.0.0.1>\r\nCall-ID: pz${branch}\r\n` +
    `CSeq: 1 ${method}\r\nContact: <sip:1001@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n`);
}

async function answerTo(method: string, branch: string): Promise<string | undefined> {
  const before = answers.length;
  sock.send(request(method, branch), service.port, '127.0.0.1');
  const deadline = Date.now() + 5_000;
  while (answers.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  return answers[before];
}

for (const method of ['OPTIONS', 'REGISTER', 'INVITE']) {
  t.test(`${method} with Via port 0 is answered at the source port`, async (t) => {
    const a = await answerTo(method, `p0${method}`);
    t.ok(a !== undefined, 'an answer came back to the sending port');
    t.match(a ?? '', /^SIP\/2\.0 [1-6]\d\d /, 'a status line');
    t.equal(service.child.exitCode, null, 'the service is still running');
  });
}

t.test('the service still serves after them', async (t) => {
  const a = await answerTo('OPTIONS', 'after');
  t.match(a ?? '', /^SIP\/2\.0 200 /);
  t.equal(service.child.exitCode, null);
  t.equal(service.child.signalCode, null);
});
