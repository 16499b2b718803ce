// Runs the SIP side of the service in-process over a temp store: the real transport, dispatcher and
// registrar, a config parsed from YAML, and a permissive Guard unless a test brings its own.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfigText } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { StoreFlush, openStore, type Store } from '../../src/store/index.js';
import type { ServiceContext } from '../../src/component.js';
import { createSipService, type SipService } from '../../src/service/sip.js';
import type { Guard } from '../../src/registrar/guard-types.js';
import { freeUdpPort } from '../helpers/sipreg.js';

export const permissiveGuard: Guard = {
  checkSource: () => 'ok',
  checkNumber: () => 'ok',
  authFailed: () => false,
  authSucceeded: () => {},
  reload: () => {},
};

export interface Harness {
  ctx: ServiceContext;
  sip: SipService;
  store: Store;
  port: number;
  dataDir: string;
  config: Config;
  setConfig(yaml: string, sipExtra?: string): void;
  close(): Promise<void>;
}

export function configYaml(body: string, port: number, sipExtra = ''): string {
  return `sip:\n  listen: ["127.0.0.1:${port}"]\n  realm: "sipreg"\n${sipExtra}data_dir: /tmp/unused\nlog_level: silent\n${body}`;
}

export async function startHarness(body: string, guard: Guard = permissiveGuard, dataDir = mkdtempSync(join(tmpdir(), 'sipreg-reg-'))): Promise<Harness> {
  const port = await freeUdpPort();
  const parse = (text: string, sipExtra = ''): Config => {
    const r = parseConfigText(configYaml(text, port, sipExtra), '/tmp/sipreg-test.yaml');
    if (r.config === null) throw new Error(r.problems.map((p) => p.message).join('; '));
    return { ...r.config, dataDir };
  };
  let config = parse(body);
  const store = openStore(dataDir);
  // As the service runs it: the flush started (recovery rule, running mark) before the registrar.
  const writes = new StoreFlush(store, config.params.storeFlushIntervalS);
  await writes.start();
  const ctx: ServiceContext = { store, writes, log: createLogger('silent'), config: () => config };
  const sip = createSipService(ctx, { guard });
  await sip.component.start();
  const h: Harness = {
    ctx, sip, store, dataDir, config, port: sip.endpoint.sockets[0]!.port,
    setConfig(yaml, sipExtra = '') { const previous = config; config = parse(yaml, sipExtra); h.config = config; void sip.component.reload(config, previous); },
    async close() { await sip.component.stop(); await writes.close(); await store.close(); },
  };
  return h;
}
