import type { Logger } from '../log.js';
import type { QuarantineSelector, Replica } from '../sync/replica.js';
import { queryNumber, send, type Route } from './http-kit.js';

/**
 * The deferred-queue and quarantine routes, served by both the daemon's HTTP API and the
 * broker's admin API (same paths, same answers):
 *   GET  /v1/deferred                ?limit=
 *   GET  /v1/quarantine              ?source=&key=&limit=   (source and key repeatable)
 *   GET  /v1/quarantine/log          ?limit=                 newest first
 *   GET  /v1/queues                  per-source counts and limits
 *   POST /v1/quarantine/release      {"all":true} | {"sources":[..],"keys":[..]}
 *   POST /v1/quarantine/drop         same selector
 * `replica` is called per request (the daemon's may not be open yet).
 */
export function queueRoutes(replica: () => Replica, log: Logger): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/deferred',
      handle: ({ res, url }) => send(res, 200, { rows: replica().deferred(queryNumber(url, 'limit')).map((e) => ({ k: e.key, v: e.value, s: e.state, src: e.source, rx: e.received })) }),
    },
    {
      method: 'GET',
      path: '/v1/quarantine',
      handle: ({ res, url }) => {
        const rows = replica().quarantined(selectorOf(url), queryNumber(url, 'limit'));
        send(res, 200, { rows: rows.map((e) => ({ k: e.key, v: e.value, s: e.state, src: e.source, rx: e.received })) });
      },
    },
    {
      method: 'GET',
      path: '/v1/quarantine/log',
      handle: ({ res, url }) => {
        const rows = replica().quarantineLogEntries(queryNumber(url, 'limit'));
        send(res, 200, { rows: rows.map((e) => ({ action: e.action, at: e.at, k: e.key, v: e.value, s: e.state, src: e.source, rx: e.received })) });
      },
    },
    { method: 'GET', path: '/v1/queues', handle: ({ res }) => send(res, 200, replica().queues()) },
    selectorAction('/v1/quarantine/release', (sel) => replica().releaseQuarantined(sel), (report, selector) => log.info('quarantined updates released', { selector, ...report })),
    selectorAction('/v1/quarantine/drop', (sel) => replica().dropQuarantined(sel), (report, selector) => log.warn('quarantined updates dropped', { selector, ...report })),
  ];
}

/** A POST route acting on the quarantined updates its JSON body selects; `audit` logs the report. */
function selectorAction<R extends object>(path: string, act: (sel: QuarantineSelector) => Promise<R>, audit: (report: R, selector: string) => void): Route {
  return {
    method: 'POST',
    path,
    handle: async ({ res, body }) => {
      const report = await act(body as QuarantineSelector);
      audit(report, JSON.stringify(body).slice(0, 500));
      send(res, 200, report);
    },
  };
}

/** `?source=..&key=..` (each repeatable) as a selector; undefined when neither is given. */
function selectorOf(url: URL): QuarantineSelector | undefined {
  const sources = url.searchParams.getAll('source');
  const keys = url.searchParams.getAll('key');
  if (sources.length === 0 && keys.length === 0) return undefined;
  return { ...(sources.length > 0 ? { sources } : {}), ...(keys.length > 0 ? { keys } : {}) };
}
