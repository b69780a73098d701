import type { Server } from 'node:http';
import { check, Health, type Check } from '../src/admin/health.js';
import type { ClusterNode } from './cluster/node.js';
import { loopbackOnly, send, serveJson, type Remote } from '../src/admin/http-kit.js';
import { keyRoutes } from '../src/admin/key-routes.js';
import { metricsRoute } from '../src/admin/metrics-kit.js';
import type { ProcessInfo } from '../src/admin/process-info.js';
import { queueRoutes } from '../src/admin/queue-routes.js';
import type { Logger } from '../src/log.js';
import type { Replica } from '../src/sync/replica.js';
import type { Hub } from './hub.js';
import { hubMetrics } from './metrics.js';
import { EventStream, type EventStreamOptions } from './web/events.js';
import { dashboardRoutes } from './web/static.js';

/** What the admin API asks the broker around the hub. */
export interface BrokerProbe {
  info: ProcessInfo;
  /** MQTT clients connected now. */
  clients(): number;
  /** Whether the MQTT listener accepts connections. */
  listening(): boolean;
  /** The hub cluster node, when the broker is one (broker/cluster/node.ts). */
  cluster?(): ClusterNode | undefined;
}

export interface AdminApiOptions {
  /** The dashboard's event stream: caps and tick (broker/web/events.ts). */
  events?: EventStreamOptions;
  /** Beyond loopback: TLS and an admin login (broker/web/admin-login.ts adminAccess). */
  remote?: Remote;
}

/**
 * The broker's optional admin API (JSON over HTTP; on loopback without a login, elsewhere over
 * TLS with an admin user's login, see broker/web/admin-login.ts):
 *   GET /v1/status    role "broker", ns, clock, live/deferred/quarantined counts, per-source queues, counters,
 *                     and `sync`: the hub's identity and epoch, its change log's head and oldest
 *                     position, and its feeds (count; per feed: device, mode, position, backlog, pages)
 *   GET /v1/fleet     per device: online, last seen, estimated clock skew, GPS offset, deferred
 *                     (count, earliest due), quarantined, rate refusals; and the skew history
 *                     (broker/fleet/fleet.ts FleetView, docs/metrics.md)
 *   GET /metrics      Prometheus text (broker/metrics.ts, docs/metrics.md)
 *   GET /healthz      liveness; GET /readyz: readiness (store open and writable, MQTT listener up; a
 *                     cluster node cut off from Redis or catching up: 200 "degraded" with a failing `cluster` check)
 *   GET /v1/events    the dashboard's live feed (server-sent events, broker/web/events.ts)
 *   GET / and /dashboard/*   the drift dashboard's files (broker/web/static.ts; docs/dashboard.md)
 *   and the deferred / quarantine and key routes shared with the daemon (src/admin/queue-routes.ts,
 * src/admin/key-routes.ts), so `hamsync status|deferred --http host:port` work against the hub too.
 * Host and content-type guards and error codes: src/admin/http-kit.ts (docs/http-api.md).
 */
export async function startAdminApi(addr: { host: string; port: number }, hub: Hub, replica: Replica, log: Logger, probe: BrokerProbe, options: AdminApiOptions = {}): Promise<{ server: Server; port: number }> {
  const registry = hubMetrics(hub, replica, () => probe.clients(), () => probe.cluster?.());
  const health = new Health(async () => [
    await check('store', 'open and writable', () => replica.probeWrite()),
    await check('mqtt', 'listening', () => {
      if (!probe.listening()) throw new Error('the MQTT listener is not accepting connections');
    }),
    // A node cut off from Redis still serves its clients: a soft check ("degraded", 200).
    ...clusterCheck(probe.cluster?.()),
  ]);
  const stream = new EventStream(replica, hub.counters, { fleet: () => hub.fleet.view(), log, ...options.events });
  const api = await serveJson(
    options.remote ? addr : loopbackOnly(addr),
    'the broker admin API',
    [...queueRoutes(() => replica, log), { method: 'GET', path: '/v1/status', handle: ({ res }) => send(res, 200, status(hub, replica, probe)) },
      metricsRoute(registry),
      ...health.routes(),
      { method: 'GET', path: '/v1/fleet', handle: ({ res }) => send(res, 200, hub.fleet.view()) },
      ...keyRoutes(() => replica),
      stream.route(),
      ...dashboardRoutes(),
    ],
    log,
    options.remote ? { remote: options.remote } : {},
  );
  api.server.once('close', () => {
    health.stop();
    stream.close();
  });
  return api;
}

function status(hub: Hub, replica: Replica, probe: BrokerProbe): Record<string, unknown> {
  let live = 0;
  for (const _ of replica.live()) live++;
  const queues = replica.queues();
  return {
    role: 'broker',
    /** version, uptimeS, lastError {message, code, at} (the last error logged). */
    ...probe.info.status(),
    ns: hub.ns,
    clients: probe.clients(),
    clock: { now: replica.now(), wall: Date.now() },
    live,
    deferred: queues.totals.deferred,
    quarantined: queues.totals.quarantined,
    queues: queues.sources,
    queueLimits: queues.limits,
    counters: { ...hub.counters.snapshot(), ...replica.counters.snapshot() },
    sync: hub.sync.status(),
    /** The hub cluster (nodes, positions, lag, Redis), when this broker is a node of one. */
    ...(probe.cluster?.() ? { cluster: probe.cluster?.()?.status() } : {}),
    /** Per device: online, lastSeen, skewS, gpsOffsetMs, deferred, earliestDue, quarantined, rateRefusals (GET /v1/fleet has the skew history too). */
    devices: hub.fleet.devices(),
  };
}

function clusterCheck(node: ClusterNode | undefined): Check[] {
  if (!node) return [];
  const c = node.check();
  return [{ name: 'cluster', ok: c.ok, reason: c.reason, soft: true }];
}
