import { Histogram, type Registry } from 'prom-client';
import { cached, counterOf, countersFamily, gaugeOf, labelled, newRegistry, sumOf } from '../src/admin/metrics-kit.js';
import type { Replica } from '../src/sync/replica.js';
import type { FleetDevice } from './fleet/fleet.js';
import type { Hub } from './hub.js';
import type { ClusterNode } from './cluster/node.js';

/** The decisions every update the hub receives ends in (hamsync_updates_received_total{decision}). */
export const DECISIONS = ['apply', 'historical', 'tie-lost', 'same', 'defer', 'quarantine'] as const;

/** Buckets of put -> PUBACK (seconds): LMDB flushes take ~1-50 ms; a loaded hub, up to seconds. */
const PUT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
/** Buckets of commit -> flushed (seconds). */
const FLUSH_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/**
 * The hub's Prometheus metrics (docs/metrics.md has the list): what the hub's counters, the
 * replica, Aedes and the fleet tracker hold, read at scrape time; the two latency histograms are
 * observed on the put path (Hub.observers, one call per message or write batch).
 */
export function hubMetrics(hub: Hub, replica: Replica, connectedClients: () => number, cluster: () => ClusterNode | undefined = () => undefined): Registry {
  const r = newRegistry();
  const counters = () => [hub.counters, replica.counters];
  const acked = new Histogram({ name: 'hamsync_put_ack_seconds', help: 'Time from a put message reaching the hub to its PUBACK (durable on disk).', buckets: PUT_BUCKETS, registers: [r] });
  const flushed = new Histogram({ name: 'hamsync_commit_flush_seconds', help: 'Time from a write batch being committed to it being flushed to disk.', buckets: FLUSH_BUCKETS, registers: [r] });
  hub.observers.acked = (s) => acked.observe(s);
  hub.observers.flushed = (s) => flushed.observe(s);

  countersFamily(r, 'hamsync_updates_received_total', 'Updates received in put messages and stored, by HAM decision (exact repeats count under their decision).', 'decision', 'decision.', counters, DECISIONS);
  countersFamily(r, 'hamsync_messages_rejected_total', 'Messages rejected or refused, by error code.', 'code', 'rejected.', counters);
  counterOf(r, 'hamsync_messages_accepted_total', 'Put messages acknowledged once durable.', sumOf(counters, 'messages.accepted'));
  counterOf(r, 'hamsync_quarantine_released_total', 'Quarantined updates released by an operator.', sumOf(counters, 'quarantine.released'));
  counterOf(r, 'hamsync_quarantine_dropped_total', 'Quarantined updates dropped by an operator.', sumOf(counters, 'quarantine.dropped'));
  countersFamily(r, 'hamsync_hub_events_total', 'Every other named counter of the hub (as in /v1/status counters), by name.', 'event', '', counters);

  gaugeOf(r, 'hamsync_connected_clients', 'MQTT clients connected to the broker.', connectedClients);
  const stats = cached(250, () => replica.storeStats());
  gaugeOf(r, 'hamsync_live_keys', 'Keys with a live value.', () => stats().liveKeys);
  gaugeOf(r, 'hamsync_retained_state_keys', 'Retained state messages the hub keeps on hamsync/<ns>/state/# (one per live key).', () => stats().liveKeys);
  gaugeOf(r, 'hamsync_history_rows', 'Rows in the history (every resolved update).', () => stats().historyRows);
  gaugeOf(r, 'hamsync_store_size_bytes', 'Bytes the LMDB data file uses (last page times page size).', () => stats().bytes);
  const queues = cached(250, () => replica.queues().totals);
  gaugeOf(r, 'hamsync_deferred_updates', 'Updates waiting for the clock (deferred queue).', () => queues().deferred);
  gaugeOf(r, 'hamsync_quarantined_updates', 'Updates held in quarantine (stamped beyond the horizon).', () => queues().quarantined);
  const sync = cached(250, () => hub.sync.status());
  gaugeOf(r, 'hamsync_sync_feeds', 'Sync v2 feeds open.', () => sync().feeds);
  gaugeOf(r, 'hamsync_sync_log_head', 'Position of the newest entry of the hub\'s change log.', () => sync().head);
  gaugeOf(r, 'hamsync_sync_backlog_entries', 'Change log entries the open feeds have not yet acknowledged, summed over feeds.', () => sync().feedList.reduce((n, f) => n + f.backlog, 0));

  fleetMetrics(r, hub);
  if (cluster()) clusterMetrics(r, cluster);
  return r;
}

/** Per device (label `device`, at most MAX_DEVICE_SERIES devices; broker/fleet/tracker.ts). */
function fleetMetrics(r: Registry, hub: Hub): void {
  const devices = cached(250, () => hub.fleet.devices());
  const per = (f: (d: FleetDevice) => number | null) => () => devices().map((d): [string, number | null] => [d.id, f(d)]);
  const seconds = (ms: number | null): number | null => (ms === null ? null : ms / 1000);
  labelled(r, 'gauge', 'hamsync_device_last_seen_timestamp_seconds', 'Hub time of the device\'s last put message (Unix seconds).', 'device', per((d) => seconds(d.lastSeen)));
  labelled(r, 'gauge', 'hamsync_device_online', '1 while a client with the device\'s id (hamsync-<id> or <id>) is connected.', 'device', per((d) => (d.online ? 1 : 0)));
  labelled(r, 'gauge', 'hamsync_device_clock_skew_seconds', 'Estimated clock skew of the device against the hub (> 0: ahead); absent without live samples.', 'device', per((d) => d.skewS));
  labelled(r, 'gauge', 'hamsync_device_gps_clock_offset_seconds', 'The device\'s own report of GPS time minus its system clock (key gps/clock-offset-ms).', 'device', per((d) => seconds(d.gpsOffsetMs)));
  labelled(r, 'gauge', 'hamsync_device_deferred_updates', 'The device\'s updates waiting for the hub\'s clock.', 'device', per((d) => d.deferred));
  labelled(r, 'gauge', 'hamsync_device_deferred_earliest_due_timestamp_seconds', 'State of the device\'s earliest deferred update (Unix seconds).', 'device', per((d) => seconds(d.earliestDue)));
  labelled(r, 'gauge', 'hamsync_device_quarantined_updates', 'The device\'s updates held in quarantine.', 'device', per((d) => d.quarantined));
  labelled(r, 'counter', 'hamsync_device_rate_refusals_total', 'Put messages of the device refused over its rate limit.', 'device', per((d) => d.rateRefusals));
  gaugeOf(r, 'hamsync_fleet_tracked_devices', 'Devices with a record and series (at most 1000).', () => hub.fleet.tracker.size);
  counterOf(r, 'hamsync_fleet_untracked_messages_total', 'Put messages from devices past the tracked-device cap (no per-device series).', () => hub.fleet.tracker.untrackedMessages);
}

/** The hub cluster node's (docs/cluster.md); its events (pushes, gaps, snapshots) are also hub counters `cluster.*`. */
function clusterMetrics(r: Registry, cluster: () => ClusterNode | undefined): void {
  gaugeOf(r, 'hamsync_cluster_redis_up', '1 while the node reaches the cluster\'s Redis (PING watchdog), else 0.', () => (cluster()?.redisUp ? 1 : 0));
  gaugeOf(r, 'hamsync_cluster_behind_entries', 'Entries of the shared stream this node has not applied yet (as of the last heartbeat).', () => cluster()?.behind ?? 0);
  gaugeOf(r, 'hamsync_cluster_unpushed_updates', 'Change log positions of this node not yet pushed to the shared stream.', () => cluster()?.pusher.unpushed ?? 0);
  gaugeOf(r, 'hamsync_cluster_snapshots', 'Peer snapshots this node took (gap fallback) since it started.', () => cluster()?.status().snapshots.taken ?? 0);
}
