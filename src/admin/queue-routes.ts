import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { QuarantineSelector, Replica } from '../sync/replica.js';
import { assertJsonRequest, queryNumber, readBody, send } from './http-kit.js';

/**
 * The deferred-queue and quarantine routes, served by both the daemon's HTTP API and the
 * broker's admin API (same paths, same answers):
 *   GET  /v1/deferred                ?limit=
 *   GET  /v1/quarantine              ?source=&key=&limit=   (source and key repeatable)
 *   GET  /v1/quarantine/log          ?limit=                 newest first
 *   GET  /v1/queues                  per-source counts and limits
 *   POST /v1/quarantine/release      {"all":true} | {"sources":[..],"keys":[..]}
 *   POST /v1/quarantine/drop         same selector
 * Returns false when the request is not one of these.
 */
export async function queueRoutes(replica: Replica, req: IncomingMessage, res: ServerResponse, url: URL, log: Logger): Promise<boolean> {
  const path = url.pathname;
  if (req.method === 'GET') {
    if (path === '/v1/deferred') {
      send(res, 200, { rows: replica.deferred(queryNumber(url, 'limit')).map((e) => ({ k: e.key, v: e.value, s: e.state, src: e.source, rx: e.received })) });
      return true;
    }
    if (path === '/v1/quarantine') {
      const rows = replica.quarantined(selectorOf(url), queryNumber(url, 'limit'));
      send(res, 200, { rows: rows.map((e) => ({ k: e.key, v: e.value, s: e.state, src: e.source, rx: e.received })) });
      return true;
    }
    if (path === '/v1/quarantine/log') {
      const rows = replica.quarantineLogEntries(queryNumber(url, 'limit'));
      send(res, 200, { rows: rows.map((e) => ({ action: e.action, at: e.at, k: e.key, v: e.value, s: e.state, src: e.source, rx: e.received })) });
      return true;
    }
    if (path === '/v1/queues') {
      send(res, 200, replica.queues());
      return true;
    }
    return false;
  }
  if (req.method !== 'POST' || (path !== '/v1/quarantine/release' && path !== '/v1/quarantine/drop')) return false;
  assertJsonRequest(req);
  const selector = (await readBody(req)) as QuarantineSelector;
  if (path === '/v1/quarantine/release') {
    const report = await replica.releaseQuarantined(selector);
    log.info('quarantined updates released', { selector: JSON.stringify(selector).slice(0, 500), ...report });
    send(res, 200, report);
  } else {
    const report = await replica.dropQuarantined(selector);
    log.warn('quarantined updates dropped', { selector: JSON.stringify(selector).slice(0, 500), ...report });
    send(res, 200, report);
  }
  return true;
}

/** `?source=..&key=..` (each repeatable) as a selector; undefined when neither is given. */
function selectorOf(url: URL): QuarantineSelector | undefined {
  const sources = url.searchParams.getAll('source');
  const keys = url.searchParams.getAll('key');
  if (sources.length === 0 && keys.length === 0) return undefined;
  return { ...(sources.length > 0 ? { sources } : {}), ...(keys.length > 0 ? { keys } : {}) };
}
