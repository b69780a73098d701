import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ManualClock, Replica } from '../../src/index.js';
import { daemonConfig } from '../../src/daemon/options.js';
import { tempDir } from '../helpers/tmp.js';

test('a replica opened with retention prunes old history in the background and never the live view', async (t) => {
  const clock = new ManualClock(10_000);
  const r = await Replica.open({ dataDir: join(tempDir(t), 'r'), clock, retention: { maxAgeMs: 5000, intervalMs: 20 } });
  t.after(() => r.close());
  const updates = [];
  for (let s = 1000; s <= 10_000; s += 1000) updates.push({ key: 'pi/temp', value: s / 100, state: s, source: 'pi' });
  updates.push({ key: 'pi/old-only', value: 'kept live', state: 1500, source: 'pi' });
  await r.receive(updates).durable;
  const pruned = new Promise((resolve) => r.retention?.once('pruned', resolve));
  await pruned;
  // Cut-off 10000 - 5000 = 5000: rows with state < 5000 are gone; the live values stay.
  assert.deepEqual(r.history('pi/temp').map((h) => h.state), [5000, 6000, 7000, 8000, 9000, 10_000]);
  assert.deepEqual(r.history('pi/old-only'), []);
  assert.equal(r.get('pi/old-only')?.value, 'kept live');
  assert.equal(r.get('pi/temp')?.state, 10_000);
});

test('retainHistory / retainBytes are validated and turned into retention options', () => {
  const c = daemonConfig({ id: 'pi-7', dataDir: '/tmp/x', retainHistory: '30d', retainBytes: '500MB' });
  assert.deepEqual(c.retention, { maxAgeMs: 30 * 86_400_000, maxBytes: 500_000_000 });
  assert.deepEqual(daemonConfig({ id: 'pi-7', dataDir: '/tmp/x' }).retention, {});
  assert.throws(() => daemonConfig({ id: 'pi-7', dataDir: '/tmp/x', retainHistory: 'forever' }), /retainHistory/);
  assert.throws(() => daemonConfig({ id: 'pi-7', dataDir: '/tmp/x', retainBytes: 'lots' }), /retainBytes/);
});
