// src/ops/sanitize.ts: the one rule for peer text shown to operators (issue 13, item 10), as tables.
import t from 'tap';
import { csvCell, displayText, jsonText } from '../../src/ops/sanitize.js';

/** A test name for any input: its code points (a raw U+2028 in a name would break TAP's own lines). */
const named = (v: unknown): string => (typeof v === 'string' ? [...v].map((c) => c.codePointAt(0)!.toString(16)).join(' ') : String(v));

/** Every character no view may print raw. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

t.test('displayText: controls and bidi characters become visible escapes; the rest is unchanged', async (t) => {
  const cases: [string, string][] = [
    ['Yealink SIP-T46S 66.86.0.15', 'Yealink SIP-T46S 66.86.0.15'],
    ['', ''],
    ['\x1b]0;pwned\x07\x1b[2J', '\\x1b]0;pwned\\x07\\x1b[2J'],          // OSC title, BEL, clear screen
    ['a\tb\r\nc\x00', 'a\\x09b\\x0d\\x0ac\\x00'],                       // a forged line stays on its line
    ['\x7f\u0080\u009b31m\u009f', '\\x7f\\x80\\x9b31m\\x9f'],           // DEL and C1 (CSI as one character)
    ['abc\u202edcba\u202c', 'abc\\u202edcba\\u202c'],                   // RLO ... PDF
    ['\u202a\u202b\u202d\u2066\u2067\u2068\u2069', '\\u202a\\u202b\\u202d\\u2066\\u2067\\u2068\\u2069'],
    ['\u200e\u200f\u061c\u2028\u2029', '\\u200e\\u200f\\u061c\\u2028\\u2029'],
    ['caf\u00e9 \u00a0 \u00ff \u4e2d \u{1f4de}', 'caf\u00e9 \u00a0 \u00ff \u4e2d \u{1f4de}'], // printable non-ASCII stays
    ['back\\slash \\x1b', 'back\\slash \\x1b'],                          // text spelling an escape is harmless
  ];
  for (const [input, shown] of cases) {
    t.equal(displayText(input), shown, named(input));
    t.notMatch(displayText(input), UNSAFE, 'nothing unsafe left');
    t.equal(displayText(displayText(input)), shown, 'applying it twice changes nothing');
  }
  for (let c = 0; c <= 0xffff; c++) {
    const ch = String.fromCharCode(c);
    if (c >= 0xd800 && c <= 0xdfff) continue;
    if (UNSAFE.test(ch)) t.not(displayText(ch), ch, `U+${c.toString(16)} is escaped`);
    else if (displayText(ch) !== ch) t.fail(`U+${c.toString(16)} changed though it is safe`);
  }
});

t.test('csvCell: formulas neutralised (OWASP), controls escaped, RFC 4180 quoting', async (t) => {
  const cases: [unknown, string][] = [
    ['1001', '1001'],
    ['sip:1001@10.1.2.10:5062', 'sip:1001@10.1.2.10:5062'],
    ['=HYPERLINK("http://x","click")', `"'=HYPERLINK(""http://x"",""click"")"`],
    ['+1+1', "'+1+1"],
    ['-2+3@evil', "'-2+3@evil"],
    ['@SUM(1,2)', `"'@SUM(1,2)"`],
    ['\t=1+1', "'\\x09=1+1"],
    ['\r=1+1', "'\\x0d=1+1"],
    ['a=1', 'a=1'],                                      // only the first character starts a formula
    ['Linphone/4.4.0 (belle-sip/4.4.0)', 'Linphone/4.4.0 (belle-sip/4.4.0)'],
    ['a,b', '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ['a;=1+1', '"a;=1+1"'],                              // a semicolon locale would split here
    ['line\nbreak', 'line\\x0abreak'],                    // one record per line, always
    ['\x1b[2J\u202e', '\\x1b[2J\\u202e'],
    [3600, '3600'],
    [0.5, '0.5'],
    [false, 'false'],
    [null, ''],
    [undefined, ''],
  ];
  for (const [input, cell] of cases) t.equal(csvCell(input), cell, named(input));
});

t.test('jsonText: the same data as JSON.stringify, with nothing unsafe in the bytes', async (t) => {
  const value = [{
    user_agent: 'Evil\x1b]0;pwned\x07\x1b[2J \u202eabc \u009b31m \u2066x\u2069 \u2028', contact: 'sip:1001@h;x="q"\\', n: 7, ok: true, none: null,
  }];
  const text = jsonText(value);
  t.same(JSON.parse(text), value, 'parses back to exactly the same values');
  t.notMatch(text.replace(/\n/g, ''), UNSAFE, 'no unsafe character raw in the output (but its own line breaks)');
  t.equal(jsonText({ a: 'plain' }), JSON.stringify({ a: 'plain' }, null, 2), 'plain data prints as before');
  t.match(text, /\\u202e/);
  t.match(text, /\\u009b/);
  t.match(text, /\\u001b/);
});
