// Child process for kamailio.test.ts: the trunks component as the service runs it, stopped by SIGTERM
// the way service/run.ts does (component.stop() before exit). argv[2] is a JSON object:
// { listen, kamPort, user, sendUnregister, dataDir }. Prints REGISTERED once registered, STOPPED at exit.
import pino from 'pino';
import { StoreFlush, openStore } from '../../src/store/index.js';
import { trunks } from '../../src/trunk/index.js';
import { TransportEndpoint } from './udp-endpoint.js';
import { config, trunk } from './fakes.js';

interface Args { listen: string; kamPort: number; user: string; sendUnregister: boolean; dataDir: string }
// `npx tap test/trunk` runs every file of the folder: without arguments this is not a test, say so.
if (process.argv[2] === undefined) process.exit(0);
const args = JSON.parse(process.argv[2]) as Args;
const store = openStore(args.dataDir);
const endpoint = await TransportEndpoint.open([args.listen]);
const cfg = config([trunk({ name: 'child', port: args.kamPort, username: args.user, domain: '127.0.0.1' })],
  { uaSendUnregister: args.sendUnregister, uaRetryDelayS: 2 }, args.dataDir);
const log = pino({ level: 'warn' }, pino.destination(2));
let said = false;
const component = trunks({ store, writes: new StoreFlush(store, cfg.params.storeFlushIntervalS), log, config: () => cfg }, endpoint, {
  random: () => 0,
  onRecord: (r) => {
    if (r.state === 'registered' && !said) { said = true; process.stdout.write(`REGISTERED ${r.contact}\n`); }
  },
});
process.on('SIGTERM', () => {
  void (async () => {
    await component.stop();
    process.stdout.write('STOPPED\n');
    await endpoint.close();
    await store.close();
    process.exit(0);
  })();
});
await component.start();
