/**
 * GET /v1/fleet on the broker admin API (the dashboard's contract): per device online, last
 * seen, skew, GPS offset, deferred (count, earliest due), quarantined, rate refusals, and the skew history.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { broker, connect, put } from '../sync-v2/harness.js';

interface FleetBody {
  now: number;
  skewThresholdS: number;
  devices: { id: string; online: boolean; lastSeen: number | null; skewS: number | null; gpsOffsetMs: number | null; deferred: number; earliestDue: number | null; quarantined: number; rateRefusals: number }[];
  skewHistory: { t: number[]; series: Record<string, (number | null)[]> };
}

test('GET /v1/fleet: devices with skew, GPS offset, deferred and earliest due; replay is not "behind"; skew history', { timeout: 30_000 }, async (t) => {
  const b = await broker(t, { http: { host: '127.0.0.1', port: 0 } });
  const fleet = async (): Promise<FleetBody> => (await (await fetch(`http://127.0.0.1:${b.httpPort as number}/v1/fleet`)).json()) as FleetBody;
  const ahead = await connect(t, b, 'hamsync-ahead');
  const replay = await connect(t, b, 'hamsync-replay');
  // "ahead" stamps 30 s into the hub's future (deferred there); "replay" sends hour-old data and a GPS offset.
  const due = b.replica.now() + 30_000;
  await put(ahead, 'ahead', [['ahead/x', 1]], due);
  await put(replay, 'replay', [['replay/old', 1], ['replay/gps/clock-offset-ms', -12.5]], b.replica.now() - 3_600_000);
  await replay.endAsync();
  b.hub.fleet.sample();
  const body = await fleet();
  assert.deepEqual(Object.keys(body).sort(), ['devices', 'now', 'skewHistory', 'skewThresholdS']);
  assert.equal(typeof body.now, 'number');
  assert.equal(body.skewThresholdS, 2);
  const [a, r] = body.devices;
  assert.deepEqual(body.devices.map((d) => d.id), ['ahead', 'replay']);
  assert.deepEqual(Object.keys(a ?? {}).sort(), ['deferred', 'earliestDue', 'gpsOffsetMs', 'id', 'lastSeen', 'online', 'quarantined', 'rateRefusals', 'skewS']);
  assert.ok(a && r);
  assert.equal(a.online, true);
  assert.ok(a.skewS !== null && Math.abs(a.skewS - 30) < 0.5, `skew of "ahead" ${a.skewS}`);
  assert.equal(a.deferred, 1);
  assert.equal(a.earliestDue, due);
  assert.equal(a.gpsOffsetMs, null);
  assert.equal(r.online, false);
  assert.equal(r.skewS, null, 'replayed old data is not reported as behind');
  assert.equal(r.gpsOffsetMs, -12.5);
  assert.equal(typeof r.lastSeen, 'number');
  assert.equal(r.deferred, 0);
  assert.equal(r.earliestDue, null);
  assert.equal(body.skewHistory.t.length, 2);
  assert.deepEqual(Object.keys(body.skewHistory.series).sort(), ['ahead', 'replay']);
  assert.equal(body.skewHistory.series.replay?.length, 2);
  assert.equal(body.skewHistory.series.replay?.[1], null);
  assert.ok(Math.abs((body.skewHistory.series.ahead?.[1] as number) - 30) < 0.5);
});

test('GET /v1/fleet and /metrics: a put refused over the rate limit counts for its device; an unknown route stays 404', { timeout: 30_000 }, async (t) => {
  const b = await broker(t, { http: { host: '127.0.0.1', port: 0 }, rateLimit: { perSecond: 1, burst: 1 } });
  const base = `http://127.0.0.1:${b.httpPort as number}`;
  const dev = await connect(t, b, 'hamsync-slow');
  await put(dev, 'slow', [['slow/a', 1]]);
  // Over the limit: no PUBACK, the client is disconnected.
  const refused = new Promise<void>((resolve) => dev.once('close', () => resolve()));
  dev.publish('hamsync/default/put/slow', JSON.stringify({ src: 'slow', u: [{ k: 'slow/b', v: 2, s: Date.now() - 1000 }] }), { qos: 1 });
  await refused;
  const body = (await (await fetch(`${base}/v1/fleet`)).json()) as FleetBody;
  assert.deepEqual(body.devices.map((d) => [d.id, d.rateRefusals]), [['slow', 1]]);
  const text = await (await fetch(`${base}/metrics`)).text();
  assert.match(text, /^hamsync_device_rate_refusals_total\{device="slow"\} 1$/m);
  assert.match(text, /^hamsync_messages_rejected_total\{code="HAMSYNC_ERR_RATE"\} 1$/m);
  assert.equal((await fetch(`${base}/v1/fleets`)).status, 404);
});
