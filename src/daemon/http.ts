import type { Server } from 'node:http';
import { queueRoutes } from '../admin/queue-routes.js';
import { keyRoutes } from '../admin/key-routes.js';
import { send, serveJson, type Route, type ServeOptions } from '../admin/http-kit.js';
import { HamsyncError } from '../errors.js';
import { check, Health } from '../admin/health.js';
import { lazyMetricsRoute } from '../admin/lazy-metrics.js';
import type { Json } from '../ham/lexical.js';
import type { Logger } from '../log.js';
import type { DaemonApi as Daemon, LocalPut } from './api.js';

/**
 * The daemon's local HTTP API (JSON), for apps on the device and the CLI:
 *   POST /v1/put            {"u":[{"k","v","s"?}]} or {"k","v","s"?}
 *   GET  /v1/keys, /v1/keys/<key>, /v1/history/<key>   (src/admin/key-routes.ts, shared with the broker)
 *   GET  /v1/status
 *   GET  /metrics           Prometheus text (src/daemon/metrics.ts, docs/metrics.md)
 *   GET  /healthz, /readyz  liveness; readiness: store open and writable, broker connected or outbox room
 *   and the deferred / quarantine routes shared with the broker (src/admin/queue-routes.ts).
 * Guards (Host, application/json on POST, body size and read timeout) and error codes:
 * src/admin/http-kit.ts; docs/http-api.md.
 */
export async function startHttpApi(addr: { host: string; port: number }, daemon: () => Daemon | undefined, log: Logger, options: ServeOptions = {}): Promise<{ server: Server; port: number }> {
  const need = (): Daemon => {
    const d = daemon();
    if (!d) throw new HamsyncError('HAMSYNC_ERR_CLOSED', 'the daemon is starting');
    return d;
  };
  const routes: Route[] = [
    {
      method: 'POST',
      path: '/v1/put',
      handle: async ({ res, body }) => {
        const results = await need().put(parsePuts(body));
        send(res, 200, { results: results.map((r) => ({ k: r.key, s: r.state, decision: r.decision, duplicate: r.duplicate })) });
      },
    },
    { method: 'GET', path: '/v1/status', handle: ({ res }) => send(res, 200, need().status()) },
    ...keyRoutes(() => need().replica),
    ...queueRoutes(() => need().replica, log),
    // prom-client loads on the first scrape (an unscraped Pi daemon stays smaller).
    lazyMetricsRoute(async () => (await import('./metrics.js')).daemonMetrics(daemon)),
  ];
  const health = new Health(async () => {
    const d = daemon();
    if (!d) return [{ name: 'daemon', ok: false, reason: 'the daemon is starting' }];
    return [
      await check('store', 'open and writable', () => d.replica.probeWrite()),
      await check('link', 'broker connected or outbox has room', () => {
        const queued = d.replica.outbox().queuedUpdates;
        if (!d.connected && queued >= d.config.outboxMax) throw new Error(`the broker is not connected and the outbox is full (${queued} of ${d.config.outboxMax} updates)`);
      }),
    ];
  });
  routes.push(...health.routes());
  const api = await serveJson(addr, 'the HTTP API', routes, log, options);
  api.server.once('close', () => health.stop());
  return api;
}

function parsePuts(body: unknown): LocalPut[] {
  const list = typeof body === 'object' && body !== null && 'u' in body ? (body as { u: unknown }).u : [body];
  if (!Array.isArray(list) || list.length === 0) {
    throw new HamsyncError('HAMSYNC_ERR_UPDATE', 'put body must be {"k","v","s"?} or {"u":[{"k","v","s"?},...]}');
  }
  return list.map((x: unknown, i) => {
    if (typeof x !== 'object' || x === null || !('k' in x) || !('v' in x)) {
      throw new HamsyncError('HAMSYNC_ERR_UPDATE', `put ${i} must be an object with "k" and "v"`);
    }
    // An absent "s" means "stamp it now"; any other value (null included) must be a valid state.
    const o = x as { k: string; v: Json; s?: number };
    return 's' in o ? { key: o.k, value: o.v, state: o.s as number } : { key: o.k, value: o.v };
  });
}
