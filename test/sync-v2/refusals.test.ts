/**
 * Requests the hub refuses with an error message on `sync/res/<device>`: a v1 catch-up request
 * (HAMSYNC_ERR_PROTOCOL), one over the per-device request rate (HAMSYNC_ERR_RATE: a burst of 10,
 * counted, logged once a second), a malformed one (HAMSYNC_ERR_PAYLOAD). Clients may not forge the
 * hub's announcement; the hub's own is retained.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '../../src/log.js';
import { decodeHubAnnouncement } from '../../src/wire/sync-v2.js';
import { topics } from '../../src/wire/topics.js';
import { until } from '../helpers/wait.js';
import { broker, connect, Follower, NS } from './harness.js';

test('a v1 catch-up request gets HAMSYNC_ERR_PROTOCOL; a malformed v2 one HAMSYNC_ERR_PAYLOAD; no feed starts', { timeout: 30_000 }, async (t) => {
  const b = await broker(t);
  const f = await Follower.start(t, b, 'old');
  await f.client.publishAsync(topics.syncRequest(NS, 'old'), JSON.stringify({ pv: 1, id: 'v1-req', f: ['#'] }), { qos: 1 });
  await until(() => f.errors.length === 1, { what: 'the error answer' });
  assert.deepEqual(f.errors[0], { id: 'v1-req', code: 'HAMSYNC_ERR_PROTOCOL', message: 'this hub speaks sync v2; upgrade the daemon' });
  assert.equal(b.hub.counters.get('sync.refused.HAMSYNC_ERR_PROTOCOL'), 1);

  await f.client.publishAsync(topics.syncRequest(NS, 'old'), JSON.stringify({ pv: 2, id: 'bad', f: ['a/#/b'] }), { qos: 1 });
  await until(() => f.errors.length === 2, { what: 'the second error answer' });
  assert.deepEqual([f.errors[1]?.id, f.errors[1]?.code], ['bad', 'HAMSYNC_ERR_PAYLOAD']);
  assert.equal(f.pages.length, 0);
  assert.equal(b.hub.sync.status().feeds, 0);

  // Not JSON: rejected like any bad message (no id to answer to); the next request's page is the marker.
  await f.client.publishAsync(topics.syncRequest(NS, 'old'), 'nope', { qos: 1 });
  assert.equal(b.hub.counters.get('rejected.HAMSYNC_ERR_PAYLOAD'), 1);
  await f.request('good', ['#']);
  await f.waitPages('good', 1);
  assert.equal(f.errors.length, 2, 'no error answer for the unparseable request');
});

test('sync requests over the per-device rate: the 11th quick one gets HAMSYNC_ERR_RATE, counted, logged thinned', { timeout: 30_000 }, async (t) => {
  const warnings: string[] = [];
  const log = createLogger('warn', {}, (line) => {
    if (line.includes('sync request refused')) warnings.push(line);
  });
  const b = await broker(t, { log });
  const f = await Follower.start(t, b, 'fol');
  for (let i = 1; i <= 10; i++) await f.request(`r${i}`, ['#']);
  await f.waitPages('r10', 1);
  assert.equal(f.errors.length, 0, 'a burst of 10 is served');
  for (let i = 11; i <= 13; i++) await f.request(`r${i}`, ['#']);
  await until(() => f.errors.length === 3, { what: 'three refusals' });
  assert.deepEqual(f.errors.map((e) => [e.id, e.code]), [['r11', 'HAMSYNC_ERR_RATE'], ['r12', 'HAMSYNC_ERR_RATE'], ['r13', 'HAMSYNC_ERR_RATE']]);
  assert.equal(b.hub.counters.get('sync.refused.HAMSYNC_ERR_RATE'), 3);
  assert.equal(warnings.length, 1, 'one log line for three refusals within a second');
  assert.deepEqual(b.hub.sync.status().feedList.map((x) => x.id), ['r10'], 'the feed of the last served request goes on');
  // Another device has its own bucket.
  const g = await Follower.start(t, b, 'other');
  await g.request('o1', ['#']);
  await g.waitPages('o1', 1);
  assert.equal(g.errors.length, 0);
});

test('the hub announcement is retained; a client\'s forged one is rejected', { timeout: 30_000 }, async (t) => {
  const b = await broker(t);
  const c = await connect(t, b, 'forger');
  const seen: Buffer[] = [];
  c.on('message', (topic, payload) => {
    if (topic === topics.hub(NS)) seen.push(payload);
  });
  const rejected0 = b.hub.counters.get('rejected.HAMSYNC_ERR_TOPIC');
  await c.publishAsync(topics.hub(NS), JSON.stringify({ pv: 2, hub: 'fake', epoch: 1 }), { qos: 1, retain: true });
  assert.equal(b.hub.counters.get('rejected.HAMSYNC_ERR_TOPIC') - rejected0, 1);
  await c.subscribeAsync(topics.hub(NS), { qos: 1 });
  await until(() => seen.length >= 1, { what: 'the retained announcement' });
  assert.deepEqual(decodeHubAnnouncement(seen[0] as Buffer), { hub: b.hub.sync.identity.id, epoch: b.hub.sync.identity.epoch });
});
