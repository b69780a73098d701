/** The `fleet` event carries only the skew samples a stream has not had yet (the page loads the whole history once). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fleetEvent, type FleetSnapshot } from '../../broker/web/fleet-delta.js';

const view = (t: number[], a: (number | null)[], b: (number | null)[]): FleetSnapshot => ({ now: 9000, skewThresholdS: 2, devices: [], skewHistory: { t, series: { a, b } } });

test('fleetEvent: the newest sample first, then only the samples after the last one sent; the view itself whole', () => {
  const first = fleetEvent(view([1000, 2000, 3000], [0.1, 0.2, 0.3], [null, 5, 5.1]), undefined);
  assert.deepEqual(first.event.skewDelta, { t: [3000], series: { a: [0.3], b: [5.1] } });
  assert.equal(first.lastT, 3000);
  assert.equal('skewHistory' in first.event, false);
  assert.deepEqual([first.event.now, first.event.skewThresholdS], [9000, 2]);
  // Two new samples (the window also dropped the oldest): both, nothing older.
  const next = fleetEvent(view([2000, 3000, 4000, 5000], [0.2, 0.3, 0.4, 0.5], [5, 5.1, 5.2, null]), first.lastT);
  assert.deepEqual(next.event.skewDelta, { t: [4000, 5000], series: { a: [0.4, 0.5], b: [5.2, null] } });
  assert.equal(next.lastT, 5000);
  // Nothing new: an empty delta, the position kept.
  const idle = fleetEvent(view([4000, 5000], [0.4, 0.5], [5.2, null]), next.lastT);
  assert.deepEqual(idle.event.skewDelta, { t: [], series: { a: [], b: [] } });
  assert.equal(idle.lastT, 5000);
  // No history at all.
  const none = fleetEvent(view([], [], []), undefined);
  assert.deepEqual([none.event.skewDelta.t, none.lastT], [[], undefined]);
});
