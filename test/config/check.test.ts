// `sipreg check`: each problem on stderr as FILE:LINE:COL: KEY: message; exit 0 valid, 1 invalid.
import t from 'tap';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { checkCommand } from '../../src/config/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({ write(chunk: Buffer, _encoding, callback): void { chunks.push(chunk.toString()); callback(); } });
  return { stream, text: () => chunks.join('') };
}

t.test('check', async (t) => {
  const table: readonly (readonly [string, number, readonly (string | RegExp)[]])[] = [
    ['etc/sipreg.yaml', 0, []],
    ['test/fixtures/config/valid-minimal.yaml', 0, []],
    ['test/fixtures/config/range.yaml', 1, [
      'test/fixtures/config/range.yaml:2:34: params.SS_SIP_USER_AGENT_RETRY_DELAY: must be 30..600. Received 5',
      /^test\/fixtures\/config\/range\.yaml:3:30: params\.SS_ENDPOINT_NAT_KEEPALIVE: /,
      /^test\/fixtures\/config\/range\.yaml:4:34: params\.SERVER_REGISTRAR_MAX_BINDINGS: /,
      /^test\/fixtures\/config\/range\.yaml:5:29: params\.SS_SIP_USER_AGENT_EXPIRE: /,
    ]],
    ['test/fixtures/config/five-problems.yaml', 1, [/:7:34: /, /:8:3: /, /:12:13: /, /:15:10: /, /:17:3: log_level: YAML: /]],
    ['test/fixtures/config/no-such-file.yaml', 1, ['test/fixtures/config/no-such-file.yaml: cannot read: ENOENT: no such file or directory']],
    ['test/fixtures/config', 1, ['test/fixtures/config: cannot read: EISDIR: illegal operation on a directory']],
  ];
  const cwd = process.cwd();
  process.chdir(root);
  t.teardown(() => process.chdir(cwd));
  for (const [file, status, lines] of table) {
    const err = capture();
    t.equal(checkCommand(file, err.stream), status, `${file}: exit ${status}`);
    const out = err.text() === '' ? [] : err.text().trimEnd().split('\n');
    t.equal(out.length, lines.length, `${file}: ${lines.length} lines`);
    lines.forEach((expected, i) => {
      if (typeof expected === 'string') t.equal(out[i], expected);
      else t.match(out[i], expected);
    });
  }
});

t.test('check never prints a password', async (t) => {
  const err = capture();
  t.equal(checkCommand(join(root, 'test/fixtures/config/secrets.yaml'), err.stream), 1);
  for (const secret of ['Hunter2-Secret', '012345', 'Hunter3-NotHex', 'Trunk-Secret-9']) t.notOk(err.text().includes(secret), secret);
});
