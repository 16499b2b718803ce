// The service record readers judge "up" by: the heartbeat, written with each flush (so its age is
// judged against the flush interval it carries), and on this host the process itself.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { hostname } from 'node:os';
import { serviceRunning, type ServiceRecord } from '../../src/store/index.js';

const nowMs = 1_800_000_000_000;
const rec = (over: Partial<ServiceRecord>): ServiceRecord => ({
  pid: process.pid, host: hostname(), startedAtMs: nowMs - 600_000, heartbeatAtMs: nowMs - 1_000, configFile: '/etc/sipreg/sipreg.yaml',
  version: '0.1.0', beatIntervalMs: 30_000, ...over,
});

t.test('a heartbeat is judged against its own interval', async (t) => {
  t.equal(serviceRunning(rec({}), nowMs), true);
  t.equal(serviceRunning(rec({ heartbeatAtMs: nowMs - 75_000 }), nowMs), true, 'two and a half 30 s beats: still up');
  t.equal(serviceRunning(rec({ heartbeatAtMs: nowMs - 95_000 }), nowMs), false, 'three missed: down');
  const { beatIntervalMs: _, ...older } = rec({ heartbeatAtMs: nowMs - 20_000 });
  t.equal(serviceRunning(older, nowMs), false, 'a record without its interval: the old 5 s beat');
  t.equal(serviceRunning(rec({ heartbeatAtMs: 0 }), nowMs), false, 'stopped');
  t.equal(serviceRunning(null, nowMs), false);
});

t.test('on this host a dead process is down at once', async (t) => {
  const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  const pid = Number(gone.stdout);
  t.equal(serviceRunning(rec({ pid }), nowMs), false, `pid ${pid} has exited`);
  t.equal(serviceRunning(rec({ pid, host: 'another-host' }), nowMs), true, 'another host: the heartbeat alone');
});
