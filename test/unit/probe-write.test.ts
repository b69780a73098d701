import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Store } from '../../src/store/open.js';
import { Replica } from '../../src/sync/replica.js';
import { tempDir } from '../helpers/tmp.js';

/** The health marker as stored (read through the replica's own store). */
function marker(r: Replica): unknown {
  return (r as unknown as { parts: { store: Store } }).parts.store.meta.get('health');
}

test('probeWrite writes its marker once per max age, not on every readiness probe; closed: it throws', async (t) => {
  const r = await Replica.open({ dataDir: tempDir(t) });
  await r.probeWrite();
  const first = marker(r);
  assert.equal(typeof first, 'number');
  // Within the max age (default 10 s) a probe trusts the last success: nothing is written.
  for (let i = 0; i < 5; i++) await r.probeWrite();
  assert.equal(marker(r), first);
  // With no max age every probe writes; the marker is Date.now(), so wait for the next millisecond.
  const after = Date.now();
  while (Date.now() === after) await new Promise((resolve) => setImmediate(resolve));
  await r.probeWrite(0);
  assert.ok((marker(r) as number) > (first as number), 'a probe past its max age writes again');
  await r.close();
  await assert.rejects(r.probeWrite(), { code: 'HAMSYNC_ERR_CLOSED' });
});
