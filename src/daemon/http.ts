import type { Server } from 'node:http';
import { queueRoutes } from '../admin/queue-routes.js';
import { queryInstant, queryNumber, send, serveJson, type Route, type ServeOptions } from '../admin/http-kit.js';
import { HamsyncError } from '../errors.js';
import { check, Health } from '../admin/health.js';
import { metricsRoute } from '../admin/metrics-kit.js';
import { daemonMetrics } from './metrics.js';
import type { Json } from '../ham/lexical.js';
import type { Logger } from '../log.js';
import { showInstant } from '../util/instant.js';
import type { DaemonApi as Daemon, LocalPut } from './api.js';

/**
 * The daemon's local HTTP API (JSON), for apps on the device and the CLI:
 *   POST /v1/put            {"u":[{"k","v","s"?}]} or {"k","v","s"?}
 *   GET  /v1/keys/<key>     the live value (with "g", its source's signature, when signed)
 *   GET  /v1/history/<key>  ?from=&to=&limit=   (from/to: a state or an ISO 8601 time)
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
    {
      method: 'GET',
      path: '/v1/keys/*',
      handle: ({ res, url }) => {
        const key = keyOf(url.pathname, '/v1/keys/');
        const e = need().replica.get(key);
        if (!e) throw absent(need(), key);
        send(res, 200, { k: e.key, v: e.value, s: e.state, src: e.source, ...(e.sig === undefined ? {} : { g: e.sig }) });
      },
    },
    {
      method: 'GET',
      path: '/v1/history/*',
      handle: ({ res, url }) => {
        const rows = need().replica.history(keyOf(url.pathname, '/v1/history/'), { from: queryInstant(url, 'from'), to: queryInstant(url, 'to'), limit: queryNumber(url, 'limit') });
        send(res, 200, { rows: rows.map((e) => ({ k: e.key, v: e.value, s: e.state, src: e.source, outcome: e.outcome, deferred: e.deferred, rx: e.received, ...(e.sig === undefined ? {} : { g: e.sig }) })) });
      },
    },
    ...queueRoutes(() => need().replica, log),
    metricsRoute(daemonMetrics(daemon)),
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

/**
 * A key without a live value: HAMSYNC_ERR_NOT_FOUND when nothing waits for it, else
 * HAMSYNC_ERR_DEFERRED_ONLY with the counts and the earliest state (both 404).
 */
function absent(d: Daemon, key: string): HamsyncError {
  const w = d.replica.waiting(key);
  if (w.deferred === 0 && w.quarantined === 0) return new HamsyncError('HAMSYNC_ERR_NOT_FOUND', `no value for key ${JSON.stringify(key)}`);
  const at = w.earliest === undefined ? '' : `; the earliest is stamped ${showInstant(w.earliest)}`;
  return new HamsyncError('HAMSYNC_ERR_DEFERRED_ONLY', `no value yet for key ${JSON.stringify(key)}: ${w.deferred} update(s) deferred, ${w.quarantined} quarantined${at}`, { ...w });
}

function keyOf(path: string, prefix: string): string {
  try {
    return decodeURIComponent(path.slice(prefix.length));
  } catch {
    throw new HamsyncError('HAMSYNC_ERR_KEY', 'the key in the path is not valid percent-encoding');
  }
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
