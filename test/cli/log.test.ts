// The readable log format: one line per record, level names, key=value fields, nothing a terminal obeys.
import t from 'tap';
import { prettyLines } from '../../src/log.js';

t.test('pretty: time, level name, message, then the fields', async (t) => {
  const json = `${JSON.stringify({ level: 40, time: '2026-05-01T12:00:00.000Z', svc: 'sipreg', number: '1001', source: '127.0.0.1:5062', ua: 'Yealink SIP-T46S', n: 3, ok: false, list: ['a'], msg: 'slow commit' })}\n`;
  t.equal(prettyLines(json), '2026-05-01T12:00:00.000Z WARN  slow commit number=1001 source=127.0.0.1:5062 ua="Yealink SIP-T46S" n=3 ok=false list=["a"]\n');
  t.equal(prettyLines(`${JSON.stringify({ level: 60, time: 't', msg: 'a' })}\n${JSON.stringify({ level: 10, time: 't', msg: 'b' })}\n`), 't FATAL a\nt TRACE b\n');
});

t.test('pretty: control and bidi characters from the network are escaped, in fields and in the message', async (t) => {
  const out = prettyLines(`${JSON.stringify({ level: 30, time: 't', ua: 'evil\u001b[2J\u009b31m\u202eabc', msg: 'x\u001b]0;title\u0007\r\ny' })}\n`);
  t.notMatch(out, /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e]/, 'no raw control character');
  t.equal(out.split('\n').length, 2, 'one line');
  t.match(out, /ua="evil\\u001b\[2J\\u009b31m\\u202eabc"/);
  t.match(out, /INFO  x\\u001b\]0;title\\u0007\\u000d\\u000ay ua=/);
});
