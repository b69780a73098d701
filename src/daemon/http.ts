import type { Server } from 'node:http';
import { queueRoutes } from '../admin/queue-routes.js';
import { queryNumber, readBody, send, serveJson } from '../admin/http-kit.js';
import { HamsyncError } from '../errors.js';
import type { Json } from '../ham/lexical.js';
import type { Logger } from '../log.js';
import type { Daemon, LocalPut } from './daemon.js';

/**
 * The daemon's local HTTP API (JSON), for apps on the device and the CLI:
 *   POST /v1/put            {"u":[{"k","v","s"?}]} or {"k","v","s"?}
 *   GET  /v1/keys/<key>     the live value (with "g", its source's signature, when signed)
 *   GET  /v1/history/<key>  ?from=&to=&limit=
 *   GET  /v1/status
 *   and the deferred / quarantine routes shared with the broker (src/admin/queue-routes.ts).
 * Errors: {"error":{"code","message"}} with 400 (bad input), 404, 413, 503 (a queue is full) or 500.
 */
export async function startHttpApi(addr: { host: string; port: number }, daemon: () => Daemon | undefined, log: Logger): Promise<{ server: Server; port: number }> {
  return serveJson(
    addr,
    'the HTTP API',
    async (req, res, url) => {
      const d = daemon();
      if (!d) return send(res, 503, { error: { code: 'HAMSYNC_ERR_CLOSED', message: 'starting' } });
      const path = url.pathname;
      if (req.method === 'POST' && path === '/v1/put') {
        const results = await d.put(parsePuts(await readBody(req)));
        return send(res, 200, { results: results.map((r) => ({ k: r.key, s: r.state, decision: r.decision, duplicate: r.duplicate })) });
      }
      if (await queueRoutes(d.replica, req, res, url, log)) return;
      if (req.method !== 'GET') return send(res, 405, { error: { code: 'HAMSYNC_ERR_UPDATE', message: `${req.method ?? ''} not allowed here` } });
      if (path === '/v1/status') return send(res, 200, d.status());
      if (path.startsWith('/v1/keys/')) {
        const e = d.replica.get(keyOf(path, '/v1/keys/'));
        if (!e) return send(res, 404, { error: { code: 'HAMSYNC_ERR_KEY', message: 'no value for this key' } });
        return send(res, 200, { k: e.key, v: e.value, s: e.state, src: e.source, ...(e.sig === undefined ? {} : { g: e.sig }) });
      }
      if (path.startsWith('/v1/history/')) {
        const rows = d.replica.history(keyOf(path, '/v1/history/'), { from: queryNumber(url, 'from'), to: queryNumber(url, 'to'), limit: queryNumber(url, 'limit') });
        return send(res, 200, { rows: rows.map((e) => ({ k: e.key, v: e.value, s: e.state, src: e.source, outcome: e.outcome, deferred: e.deferred, rx: e.received, ...(e.sig === undefined ? {} : { g: e.sig }) })) });
      }
      send(res, 404, { error: { code: 'HAMSYNC_ERR_KEY', message: `no such endpoint: ${path}` } });
    },
    log,
  );
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
