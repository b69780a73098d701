import type { Server } from 'node:http';
import { loopbackOnly, send, serveJson } from '../src/admin/http-kit.js';
import { keyRoutes } from '../src/admin/key-routes.js';
import { queueRoutes } from '../src/admin/queue-routes.js';
import type { Logger } from '../src/log.js';
import type { Replica } from '../src/sync/replica.js';
import type { Hub } from './hub.js';
import { EventStream, type EventStreamOptions } from './web/events.js';
import { dashboardRoutes } from './web/static.js';

/**
 * The broker's optional admin API (JSON over HTTP, loopback only, no authentication):
 *   GET /v1/status    role "broker", ns, clock, live/deferred/quarantined counts, per-source queues, counters,
 *                     and `sync`: the hub's identity and epoch, its change log's head and oldest
 *                     position, and its feeds (count; per feed: device, mode, position, backlog, pages)
 *   GET /v1/events    the dashboard's live feed (server-sent events, broker/web/events.ts)
 *   GET / and /dashboard/*   the drift dashboard's files (broker/web/static.ts; docs/dashboard.md)
 *   and the deferred / quarantine and key routes shared with the daemon (src/admin/queue-routes.ts,
 * src/admin/key-routes.ts), so `hamsync status|deferred --http host:port` work against the hub too.
 * Host and content-type guards and error codes: src/admin/http-kit.ts (docs/http-api.md).
 */
export async function startAdminApi(addr: { host: string; port: number }, hub: Hub, replica: Replica, log: Logger, events: EventStreamOptions = {}): Promise<{ server: Server; port: number }> {
  const stream = new EventStream(replica, hub.counters, events);
  const api = await serveJson(
    loopbackOnly(addr),
    'the broker admin API',
    [
      ...queueRoutes(() => replica, log),
      ...keyRoutes(() => replica),
      { method: 'GET', path: '/v1/status', handle: ({ res }) => send(res, 200, status(hub, replica)) },
      stream.route(),
      ...dashboardRoutes(),
    ],
    log,
  );
  api.server.once('close', () => stream.close());
  return api;
}

function status(hub: Hub, replica: Replica): Record<string, unknown> {
  let live = 0;
  for (const _ of replica.live()) live++;
  const queues = replica.queues();
  return {
    role: 'broker',
    ns: hub.ns,
    clock: { now: replica.now(), wall: Date.now() },
    live,
    deferred: queues.totals.deferred,
    quarantined: queues.totals.quarantined,
    queues: queues.sources,
    queueLimits: queues.limits,
    counters: { ...hub.counters.snapshot(), ...replica.counters.snapshot() },
    sync: hub.sync.status(),
  };
}
