import { HamsyncError, describe } from '../errors.js';
import type { Replica } from '../sync/replica.js';
import { showInstant } from '../util/instant.js';
import { queryInstant, queryNumber, send, type Route } from './http-kit.js';

/** Most rows `GET /v1/keys` returns when no limit is asked for, and the most it ever returns. */
export const KEY_LIST_MAX = 1000;

/**
 * The key routes, served by both the daemon's HTTP API and the broker's admin API:
 *   GET /v1/keys            ?prefix=&limit=   live entries in key order (at most KEY_LIST_MAX) and `more`
 *   GET /v1/keys/<key>      the live value (with "g", its source's signature, when signed)
 *   GET /v1/history/<key>   ?from=&to=&limit=   (from/to: a state or an ISO 8601 time)
 * `replica` is called per request (the daemon's may not be open yet).
 */
export function keyRoutes(replica: () => Replica): Route[] {
  return [
    {
      method: 'GET',
      path: '/v1/keys',
      handle: ({ res, url }) => {
        const limit = queryNumber(url, 'limit') ?? KEY_LIST_MAX;
        if (!Number.isInteger(limit) || limit < 1 || limit > KEY_LIST_MAX) {
          throw new HamsyncError('HAMSYNC_ERR_CONFIG', `query parameter limit must be a whole number from 1 to ${KEY_LIST_MAX}, got ${describe(limit)}`, { field: 'limit' });
        }
        const rows: object[] = [];
        let more = false;
        for (const e of replica().live(url.searchParams.get('prefix') ?? '')) {
          if (rows.length === limit) {
            more = true;
            break;
          }
          rows.push({ k: e.key, v: e.value, s: e.state, src: e.source });
        }
        send(res, 200, { rows, more });
      },
    },
    {
      method: 'GET',
      path: '/v1/keys/*',
      handle: ({ res, url }) => {
        const key = keyOf(url.pathname, '/v1/keys/');
        const e = replica().get(key);
        if (!e) throw absent(replica(), key);
        send(res, 200, { k: e.key, v: e.value, s: e.state, src: e.source, ...(e.sig === undefined ? {} : { g: e.sig }) });
      },
    },
    {
      method: 'GET',
      path: '/v1/history/*',
      handle: ({ res, url }) => {
        const rows = replica().history(keyOf(url.pathname, '/v1/history/'), { from: queryInstant(url, 'from'), to: queryInstant(url, 'to'), limit: queryNumber(url, 'limit') });
        send(res, 200, { rows: rows.map((e) => ({ k: e.key, v: e.value, s: e.state, src: e.source, outcome: e.outcome, deferred: e.deferred, rx: e.received, ...(e.sig === undefined ? {} : { g: e.sig }) })) });
      },
    },
  ];
}

/**
 * A key without a live value: HAMSYNC_ERR_NOT_FOUND when nothing waits for it, else
 * HAMSYNC_ERR_DEFERRED_ONLY with the counts and the earliest state (both 404).
 */
function absent(replica: Replica, key: string): HamsyncError {
  const w = replica.waiting(key);
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
