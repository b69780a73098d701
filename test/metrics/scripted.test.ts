/**
 * A scripted run: a hub (admin API on) and two daemons, one with --clock-offset +5s; a tie, deferred
 * updates, a quarantined one and a malformed message. The hub's and the daemons' /metrics parse as
 * Prometheus text and the named metrics carry the expected values; the +5 s device's skew is 5 +- 0.5 s.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { startBroker } from '../../broker/server.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { parsePromText, valueOf, type Family } from '../helpers/prom-text.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

async function scrape(port: number): Promise<Map<string, Family>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parsePromText(await res.text());
}

test('scripted run: hub and daemon metrics after a tie, deferred and quarantined updates; the +5s device is estimated 5 s ahead', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const b = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), http: { host: '127.0.0.1', port: 0 }, replica: { maxFutureMs: 60_000 } });
  t.after(() => b.close());
  const url = `mqtt://127.0.0.1:${b.port}`;
  const a = await Daemon.start({ id: 'dev-a', broker: url, dataDir: join(dir, 'a'), http: '127.0.0.1:0', maxFuture: '1m' });
  t.after(() => a.stop());
  const fast = await Daemon.start({ id: 'dev-b', broker: url, dataDir: join(dir, 'b'), http: '127.0.0.1:0', maxFuture: '1m', clockOffset: '+5s' });
  t.after(() => fast.stop());
  await until(() => a.connected && fast.connected, { what: 'both daemons connected' });
  const hubPort = b.httpPort as number;

  // Ten ordinary puts each (one message each): applied from dev-a, deferred (5 s ahead) from dev-b.
  for (let i = 0; i < 10; i++) {
    await a.put([{ key: `a/n${i}`, value: i }]);
    await fast.put([{ key: `b/n${i}`, value: i }]);
  }
  // The tie: dev-a's "b" first, then dev-b's "a" at the same state loses it at the hub.
  const S = b.replica.now() - 10_000;
  await a.put([{ key: 'tie', value: 'b', state: S }]);
  await until(() => b.replica.get('tie'), { what: 'the hub has the first tie value' });
  await fast.put([{ key: 'tie', value: 'a', state: S }]);
  // Beyond the hub's horizon (1 minute): quarantined; 40 s ahead: deferred.
  await a.put([{ key: 'far', value: 1, state: b.replica.now() + 600_000 }]);
  const due = b.replica.now() + 40_000;
  await fast.put([{ key: 'later', value: 1, state: due }]);
  // A malformed message.
  const raw = await mqtt.connectAsync(url, { clientId: 'raw-1', reconnectPeriod: 0 });
  t.after(() => raw.endAsync(true).catch(() => undefined));
  await raw.publishAsync('hamsync/default/put/raw-1', 'not json', { qos: 1 });

  const m = await until(async () => {
    const f = await scrape(hubPort);
    return valueOf(f, 'hamsync_updates_received_total', { decision: 'tie-lost' }) === 1 && valueOf(f, 'hamsync_updates_received_total', { decision: 'defer' }) === 11 && valueOf(f, 'hamsync_updates_received_total', { decision: 'quarantine' }) === 1 ? f : undefined;
  }, { what: 'every update counted at the hub', timeoutMs: 20_000 });
  const v = (name: string, labels: Record<string, string> = {}): number => valueOf(m, name, labels);
  assert.equal(v('hamsync_updates_received_total', { decision: 'apply' }), 11);
  assert.equal(v('hamsync_updates_received_total', { decision: 'historical' }), 0);
  assert.equal(v('hamsync_updates_received_total', { decision: 'same' }), 0);
  assert.equal(v('hamsync_messages_rejected_total', { code: 'HAMSYNC_ERR_PAYLOAD' }), 1);
  assert.equal(v('hamsync_messages_accepted_total'), 24);
  // The rejected message is acknowledged too (so its sender does not retry it).
  assert.equal(v('hamsync_put_ack_seconds_count'), 25);
  assert.ok(v('hamsync_commit_flush_seconds_count') >= 1);
  assert.equal(v('hamsync_connected_clients'), 3);
  assert.equal(v('hamsync_quarantined_updates'), 1);
  assert.ok(v('hamsync_deferred_updates') >= 1, 'the 40 s update waits');
  assert.ok(v('hamsync_live_keys') >= 11);
  assert.equal(v('hamsync_retained_state_keys'), v('hamsync_live_keys'));
  assert.ok(v('hamsync_store_size_bytes') > 0);
  assert.equal(v('hamsync_sync_feeds'), 2);
  assert.ok(m.has('process_cpu_seconds_total') && m.has('nodejs_eventloop_lag_seconds'));
  assert.equal(m.get('hamsync_put_ack_seconds')?.type, 'histogram');
  // Per device.
  const skewB = v('hamsync_device_clock_skew_seconds', { device: 'dev-b' });
  const skewA = v('hamsync_device_clock_skew_seconds', { device: 'dev-a' });
  assert.ok(Math.abs(skewB - 5) <= 0.5, `dev-b skew ${skewB}`);
  assert.ok(Math.abs(skewA) <= 0.5, `dev-a skew ${skewA} (its one far-future put must not move it)`);
  assert.equal(v('hamsync_device_online', { device: 'dev-a' }), 1);
  assert.equal(v('hamsync_device_quarantined_updates', { device: 'dev-a' }), 1);
  assert.ok(v('hamsync_device_deferred_updates', { device: 'dev-b' }) >= 1);
  assert.equal(v('hamsync_device_deferred_earliest_due_timestamp_seconds', { device: 'dev-b' }) <= due / 1000, true);
  assert.equal(v('hamsync_device_rate_refusals_total', { device: 'dev-b' }), 0);
  // raw-1 sent nothing valid: no record.
  assert.equal(v('hamsync_fleet_tracked_devices'), 2);
  // The broker status: version, uptime, clients, devices.
  const status = (await (await fetch(`http://127.0.0.1:${hubPort}/v1/status`)).json()) as { version: string; uptimeS: number; clients: number; lastError: unknown; devices: { id: string; skewS: number }[] };
  assert.match(status.version, /^\d+\.\d+\.\d+/);
  assert.equal(typeof status.uptimeS, 'number');
  assert.equal(status.clients, 3);
  assert.equal(status.lastError, null);
  assert.ok(Math.abs((status.devices.find((d) => d.id === 'dev-b')?.skewS as number) - 5) <= 0.5);

  // The daemons.
  const da = await until(async () => {
    const f = await scrape(a.httpPort);
    return valueOf(f, 'hamsync_outbox_updates') === 0 ? f : undefined;
  }, { what: 'dev-a outbox drained' });
  assert.equal(valueOf(da, 'hamsync_link_up'), 1);
  assert.equal(valueOf(da, 'hamsync_link_connects_total'), 1);
  assert.equal(valueOf(da, 'hamsync_quarantined_updates'), 1, 'dev-a holds its own far-future update');
  assert.equal(valueOf(da, 'hamsync_outbox_max_updates'), a.config.outboxMax);
  assert.equal(valueOf(da, 'hamsync_outbox_oldest_age_seconds'), 0);
  const hub = b.hub.sync.identity.id;
  await until(async () => valueOf(await scrape(a.httpPort), 'hamsync_sync_position', { hub }) === b.hub.sync.status().head, { what: 'dev-a\'s sync position at the hub\'s head' });
  assert.throws(() => valueOf(da, 'hamsync_gps_clock_offset_seconds', { source: 'gpsd' }), /no sample/, 'no GPS offset without a gpsd source');
  const ds = (await (await fetch(`http://127.0.0.1:${fast.httpPort}/v1/status`)).json()) as { version: string; uptimeS: number; lastError: unknown };
  assert.match(ds.version, /^\d+\.\d+\.\d+/);
  assert.equal(ds.lastError, null);
});
