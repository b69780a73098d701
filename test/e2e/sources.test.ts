import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startBroker } from '../../broker/server.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { daemonConfig } from '../../src/daemon/options.js';
import { tempDir } from '../helpers/tmp.js';
import { sleep, until } from '../helpers/wait.js';


test('a daemon with the simulated and linux-host profiles feeds its telemetry through the broker into the hub', async (t) => {
  const dir = tempDir(t);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub') });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sim = await Daemon.start({ id: 'sim-1', broker: url, dataDir: join(dir, 'sim'), http: '127.0.0.1:0', profile: 'simulated', sources: '[{"type":"simulated","interval":"100ms","seed":7}]' });
  const host = await Daemon.start({ id: 'host-1', broker: url, dataDir: join(dir, 'host'), http: '127.0.0.1:0', profile: 'raspberry-pi', clockDriftPpm: 200 });
  t.after(async () => {
    await sim.stop();
    await host.stop();
    await broker.close();
  });
  await until(() => (broker.replica.get('sim-1/sim/counter')?.value as number) >= 3, { what: 'simulated telemetry at the hub' });
  assert.equal(typeof broker.replica.get('sim-1/sim/temp')?.value, 'number');
  assert.equal(broker.replica.get('sim-1/sim/temp')?.source, 'sim-1');
  // This machine's /proc: load and memory exist on every Linux host.
  await until(() => broker.replica.get('host-1/mem/total') !== undefined && broker.replica.get('host-1/load/1m') !== undefined, { what: 'host telemetry at the hub' });
  assert.ok((broker.replica.get('host-1/mem/total')?.value as number) > 0);
  // A clock 100,000 ppm (10%) fast is ahead of the wall clock by ~100 ms per second it ran.
  const drifty = await Daemon.start({ id: 'drift-1', broker: url, dataDir: join(dir, 'drift'), http: '127.0.0.1:0', clockDriftPpm: 100_000 });
  const wall0 = Date.now();
  await sleep(1000);
  const ahead = drifty.replica.now() - Date.now();
  const ran = Date.now() - wall0;
  await drifty.stop();
  assert.ok(ahead > 0.1 * ran * 0.7 && ahead < 0.1 * ran * 1.3 + 20, `10% fast clock is ${ahead} ms ahead after ${ran} ms`);
  // Counted readings, no failed puts.
  assert.ok(((sim.status().counters as Record<string, number>)['updates.local'] ?? 0) >= 3);
  assert.equal((sim.status().counters as Record<string, number>)['sources.put-failed'], undefined);
});

test('source configs are validated at start: the error names the source and the option', async (t) => {
  const dir = join(tempDir(t), 'never-created');
  await assert.rejects(() => Daemon.start({ id: 'x', dataDir: dir, sources: [{ type: 'simulated', interval: '-1s' }] }), /sources\[0\]\.interval/);
  await assert.rejects(() => Daemon.start({ id: 'x', dataDir: dir, sources: [{ type: 'gpsd', intervall: '1s' }] }), /sources\[0\]\.intervall/);
  assert.equal(existsSync(dir), false, 'nothing was opened before the sources were validated');
  assert.throws(() => daemonConfig({ id: 'x', dataDir: '/tmp/x', profile: 'toaster' }), /profile "toaster"/);
  assert.throws(() => daemonConfig({ id: 'x', dataDir: '/tmp/x', sources: '[not json' }), /sources must be a list/);
});
