// Conversion of a schema 1 or 2 store (msgpack records, one per binding) to schema 3 (bytes, one value
// per number), in one write transaction at open: either all of it happens or none.
import type { Database, RootDatabase } from 'lmdb';
import type { BindingRecord, EventRecord } from './records.js';
import { AOR_FORMAT, RecordWriter, encodeBinding, recordSizeMax } from './binding-codec.js';
import { encodeEvent } from './events.js';
import { BINDING_COUNT_KEY } from './bindings.js';

/** Where lmdb-js kept schema 2's shared msgpack structures (an entry of the database itself). */
const SHARED_STRUCTURES_KEY = Symbol.for('structures');

export function migrateToBytes(root: RootDatabase, meta: Database<unknown, string>, version: number): void {
  const oldBindings = root.openDB<BindingRecord, [string, string]>({ name: 'bindings', sharedStructuresKey: SHARED_STRUCTURES_KEY });
  const oldExpiry = root.openDB({ name: 'expiry' });
  const oldEvents = root.openDB<EventRecord, [number, number, number]>({ name: 'events', sharedStructuresKey: SHARED_STRUCTURES_KEY });
  const aors = root.openDB<Buffer, string>({ name: 'aors', encoding: 'binary' });
  const expiry = root.openDB<Buffer, [number, string]>({ name: 'aor_expiry', encoding: 'binary' });
  const history = root.openDB<Buffer, [number, number, number]>({ name: 'history', encoding: 'binary' });
  const writer = new RecordWriter();
  const one = Buffer.from([1]);
  root.transactionSync(() => {
    // Another process (the console opening the store as the service starts) may have converted it
    // meanwhile: openDB above then made the old databases anew, empty; they go again.
    if (meta.get('schema_version') === version) {
      oldBindings.dropSync();
      oldExpiry.dropSync();
      oldEvents.dropSync();
      return;
    }
    let total = 0;
    let number: string | null = null;
    let group: BindingRecord[] = [];
    const flushGroup = (): void => {
      if (number === null || group.length === 0) return;
      let size = 1;
      for (const b of group) size += recordSizeMax(b);
      const buf = Buffer.alloc(size);
      buf[0] = AOR_FORMAT;
      let p = 1;
      const times = new Set<number>();
      for (const b of group) { p = encodeBinding(writer, b, buf, p); times.add(b.expiresAtMs); }
      aors.put(number, buf.subarray(0, p));
      for (const t of times) expiry.put([t, number], one);
      total += group.length;
    };
    for (const { key, value } of oldBindings.getRange({})) {
      if (key[0] !== number) { flushGroup(); number = key[0]; group = []; }
      group.push({ ...value, number: key[0] });
    }
    flushGroup();
    for (const { key, value } of oldEvents.getRange({})) history.put(key, encodeEvent(value));
    meta.put(BINDING_COUNT_KEY, total);
    meta.put('schema_version', version);
    oldBindings.dropSync();
    oldExpiry.dropSync();
    oldEvents.dropSync();
  });
}
