import t from 'tap';
import { readFileSync } from 'node:fs';
import { renderParamsMarkdown } from '../../src/config/index.js';
import { commands } from '../../src/cli/index.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

function between(begin: string, end: string): string {
  const a = readme.indexOf(begin);
  const b = readme.indexOf(end);
  if (a === -1 || b === -1) return '';
  return readme.slice(a + begin.length + 1, b);
}

t.test("README's parameter table is the config table", async (t) => {
  t.equal(between('<!-- params:begin -->', '<!-- params:end -->'), renderParamsMarkdown(),
    'regenerate with: sipreg params --markdown');
});

t.test('README lists every command sipreg has, and no other', async (t) => {
  const table = between('<!-- commands:begin -->', '<!-- commands:end -->');
  const listed = [...table.matchAll(/^\| `([a-z-]+)[ `]/gm)].map((m) => m[1]);
  t.same(listed.sort(), commands.map((c) => c.name).sort());
});
