// A store whose file is mostly free pages, for the compaction tests (test/store, test/e2e).
import { EventWriter, openStore, pruneEvents, putBinding } from '../../src/store/index.js';
import { binding } from '../console/fixtures/seed.js';

const day = 86_400_000;

/** A store whose file is mostly free pages: 20 MiB of old history written and pruned, 50 bindings and 100 recent rows kept. */
export async function sparseStore(dataDir: string): Promise<void> {
  const store = openStore(dataDir);
  for (let i = 0; i < 50; i++) await putBinding(store, binding(String(700000 + i)));
  const w = new EventWriter();
  const old = Date.now() - 60 * day;
  for (let v = 0; v < 2000; v++) {
    await store.root.transaction(() => {
      for (let r = 0; r < 30; r++) w.begin(old + v, 'registered').text('700000').next().text('192.0.2.1:5060').next().text('ua').next().text('d'.repeat(300)).endRow();
      w.putIn(store);
    });
  }
  const recent = Date.now();
  for (let v = 0; v < 100; v++) {
    await store.root.transaction(() => { w.begin(recent - v, 'refreshed').text('700001').next().text('').next().text('').next().text(`kept ${v}`).endRow(); w.putIn(store); });
  }
  while (await pruneEvents(store, Date.now(), 30, 1_000_000) > 0) { /* the old rows go */ }
  await store.close();
}

