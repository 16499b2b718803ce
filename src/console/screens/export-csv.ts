/** Console: 4 Export to CSV, the bindings the Registrations filter selects (ops/bindings.ts's CSV). */
import { writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { bindingsCsv, describeFilter, findBindings } from '../../ops/bindings.js';
import { cut, wrap } from '../../ops/format.js';
import type { ScreenContext } from './context.js';

/** 4 Export to CSV: the bindings under the Registrations filter, to a file on the box. */
export async function exportScreen(c: ScreenContext): Promise<string | void> {
  const nowMs = c.now();
  const d = new Date(nowMs);
  const stamp = `${d.getFullYear()}${String(d.getMonth() + 1).padStart(2, '0')}${String(d.getDate()).padStart(2, '0')}-` +
    `${String(d.getHours()).padStart(2, '0')}${String(d.getMinutes()).padStart(2, '0')}${String(d.getSeconds()).padStart(2, '0')}`;
  const defaultPath = join(c.store.dataDir, `registrations-${stamp}.csv`);
  const bindings = findBindings(c.store, c.filter, nowMs);
  const f = describeFilter(c.filter);
  const answer = await c.ui.prompt({
    title: 'Export to CSV',
    body: [`${bindings.length} binding(s) to export; filter: ${f === '' ? '(none: the full list)' : f}`,
      '(set or clear the filter in 1 Registrations)', '', 'Default file:', ...wrap(defaultPath, 78, '  ')],
    menu: [],
  }, 'File (Enter = default, 0 = cancel): ');
  if (answer === null) return 'Export cancelled.';
  const path = answer === '' ? defaultPath : isAbsolute(answer) ? answer : resolve(c.store.dataDir, answer);
  try {
    writeFileSync(path, bindingsCsv(bindings, nowMs));
  } catch (err) {
    return cut(`Export failed: ${path}: ${err instanceof Error ? err.message : String(err)}`, 80);
  }
  await c.ui.pause({ title: 'Export to CSV', body: [`Wrote ${bindings.length} row(s) to`, ...wrap(path, 78, '  ')], menu: [] });
  return cut(`Exported ${bindings.length} row(s) to ${path}`, 80);
}
