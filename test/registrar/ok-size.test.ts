// The 200 OK to a REGISTER is written into half a response slot (limits.registerOkSizeMax); one that does
// not fit is answered 500 Response Too Large. This writes the largest 200 a real site can ask for: a
// number at SERVER_REGISTRAR_MAX_BINDINGS's maximum, every contact of the longest realistic form (IPv6
// with a port, RFC 8599 push parameters, +sip.instance and reg-id from RFC 5626), behind a long Via.
import t from 'tap';
import { limits } from '../../src/limits.js';
import { paramSpecByName } from '../../src/config/params.js';
import { SipClient } from './sipclient.js';
import { startHarness, type Harness } from './harness.js';

const spec = paramSpecByName.get('SERVER_REGISTRAR_MAX_BINDINGS')!;
const MAX_BINDINGS = 'max' in spec ? Number(spec.max) : 0;
t.equal(MAX_BINDINGS, 10, 'SERVER_REGISTRAR_MAX_BINDINGS tops out at 10');

let h: Harness;
let c: SipClient;
t.before(async () => {
  h = await startHarness(`
params:
  SERVER_REGISTRAR_MAX_BINDINGS: ${MAX_BINDINGS}
  SS_ENDPOINT_EXPIRE_JITTER: 0
accounts:
  - { number: "100000000001", auth_mode: ip, allow: ["127.0.0.0/8"] }
`);
  c = await SipClient.open(h.port);
});
t.teardown(async () => { c.close(); await h.close(); });

function longContact(i: number): string {
  const hex = (n: number, width: number): string => n.toString(16).padStart(width, '0');
  const prid = Array.from({ length: 8 }, (_, k) => hex(0x9abcdef0 + i * 17 + k, 8)).join(''); // an APNs token: 64 hex digits
  return `<sip:100000000001@[2001:db8:85a3:1234:5678:8a2e:${hex(0x1000 + i, 4)}:7334]:50600;transport=udp` +
    `;pn-provider=apns;pn-param=ABCD1234EF.com.example.softphone.voip;pn-prid=${prid}>` +
    `;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e${hex(i, 4)}>";reg-id=1`;
}

t.test(`a 200 listing ${MAX_BINDINGS} contacts of the longest realistic form fits registerOkSizeMax`, async (t) => {
  let last = null;
  for (let i = 0; i < MAX_BINDINGS; i++) {
    last = await c.register({
      user: '100000000001', contacts: [longContact(i)], expires: 3600, callId: `${'c'.repeat(40)}${i}@phone.example.com`,
      viaHost: '127.0.0.1',
    });
    t.equal(last.status, 200, `phone ${i + 1}: ${last.reason}`);
  }
  const listed = last!.all('contact');
  t.equal(listed.length, MAX_BINDINGS, 'the last 200 lists every binding of the number');
  for (let i = 0; i < MAX_BINDINGS; i++) {
    t.ok(listed.some((v) => v.includes(`a0c91e${i.toString(16).padStart(4, '0')}`)), `contact ${i + 1} with its +sip.instance`);
  }
  const bytes = Buffer.byteLength(last!.text);
  t.ok(bytes <= limits.registerOkSizeMax, `${bytes} B <= ${limits.registerOkSizeMax} B`);
  t.comment(`largest realistic 200: ${bytes} B of ${limits.registerOkSizeMax} B`);
});
