#!/usr/bin/env node
// The appliance's factory config, made from the example (etc/sipreg.yaml) by image/build-image.sh:
// the same file and comments, but listening on every interface, data in /var/lib/sipreg, and no
// accounts or trunks. The example's passwords and its 1002 HA1 are published (the example listens on
// loopback only for that reason); a box flashed from the image must not accept them. An installer pushes
// the real accounts (image/README.md, "Pushing a config"). Line-based, so the layout and comments an
// installer reads on the box stay as in the example; the result is parsed back and checked.
//
//   node image/factory-config.mjs EXAMPLE OUT
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';

const LISTEN = '["0.0.0.0:5060", "[::]:5060"]';
const DATA_DIR = '/var/lib/sipreg';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: factory-config.mjs EXAMPLE OUT\n');
  process.exit(2);
}

/** `key: value   # comment` with the value replaced, the comment kept in its column. */
function withValue(line, prefix, value, comment) {
  const old = line.indexOf('#');
  const text = `${prefix}${value}`;
  const note = comment ?? (old >= 0 ? line.slice(old + 1).trim() : '');
  if (note === '') return text;
  return `${text.padEnd(Math.max(old, text.length + 1))}# ${note}`;
}

const out = [];
let section = '';
let dropping = false;
for (const line of readFileSync(input, 'utf8').split('\n')) {
  const top = /^([a-z_]+):/.exec(line);
  if (top) {
    section = top[1];
    dropping = false;
    if (section === 'accounts' || section === 'trunks') {
      out.push(withValue(line, `${section}: `, '[]', 'none in the factory config: push yours (image/README.md)'), '');
      dropping = true;
      continue;
    }
    if (section === 'data_dir') {
      out.push(withValue(line, 'data_dir: ', DATA_DIR));
      continue;
    }
  } else if (dropping) {
    continue;
  } else if (section === 'sip' && /^ {2}listen:/.test(line)) {
    out.push(withValue(line, '  listen: ', LISTEN, 'every interface: phones come from the network'));
    continue;
  }
  out.push(line);
}
const text = out.join('\n');
const check = parse(text);
const problems = [];
if (JSON.stringify(check?.sip?.listen) !== JSON.stringify(JSON.parse(LISTEN))) problems.push('sip.listen');
if (check?.data_dir !== DATA_DIR) problems.push('data_dir');
if ((check?.accounts ?? []).length !== 0) problems.push('accounts');
if ((check?.trunks ?? []).length !== 0) problems.push('trunks');
if (problems.length > 0) {
  process.stderr.write(`factory-config: could not set ${problems.join(', ')} in ${input}\n`);
  process.exit(1);
}
writeFileSync(output, text);
