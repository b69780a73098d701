import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HamsyncError, isHamsyncError } from '../errors.js';
import type { Json } from '../ham/lexical.js';
import type { Logger } from '../log.js';
import type { Daemon, LocalPut } from './daemon.js';

const MAX_BODY = 1024 * 1024;

/**
 * The daemon's local HTTP API (JSON), for apps on the device and the CLI:
 *   POST /v1/put            {"u":[{"k","v","s"?}]} or {"k","v","s"?}
 *   GET  /v1/keys/<key>     the live value
 *   GET  /v1/history/<key>  ?from=&to=&limit=
 *   GET  /v1/deferred       ?limit=
 *   GET  /v1/status
 * Errors: {"error":{"code","message"}} with 400 (bad input), 404, 413 or 500.
 */
export async function startHttpApi(addr: { host: string; port: number }, daemon: () => Daemon | undefined, log: Logger): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const d = daemon();
    if (!d) return send(res, 503, { error: { code: 'HAMSYNC_ERR_CLOSED', message: 'starting' } });
    route(d, req, res).catch((err: unknown) => {
      if (isHamsyncError(err)) {
        const status = err.code === 'HAMSYNC_ERR_TOO_LARGE' ? 413 : err.code === 'HAMSYNC_ERR_OUTBOX_FULL' ? 503 : 400;
        return send(res, status, { error: { code: err.code, message: err.message } });
      }
      log.error('http handler failed', { err: (err as Error).message, url: req.url });
      send(res, 500, { error: { code: 'HAMSYNC_ERR_STORE', message: (err as Error).message } });
    });
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.message;
      reject(new HamsyncError('HAMSYNC_ERR_LISTEN', `cannot listen for the HTTP API on ${addr.host}:${addr.port}: ${why}`, { field: 'http' }));
    });
    server.listen(addr.port, addr.host, () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}

async function route(d: Daemon, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://local');
  const path = url.pathname;
  const num = (name: string): number | undefined => {
    const v = url.searchParams.get(name);
    if (v === null || v === '') return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new HamsyncError('HAMSYNC_ERR_STATE', `query parameter ${name} must be a number, got ${JSON.stringify(v)}`);
    return n;
  };
  if (req.method === 'POST' && path === '/v1/put') {
    const results = await d.put(parsePuts(await readBody(req)));
    return send(res, 200, { results: results.map((r) => ({ k: r.key, s: r.state, decision: r.decision, duplicate: r.duplicate })) });
  }
  if (req.method !== 'GET') return send(res, 405, { error: { code: 'HAMSYNC_ERR_UPDATE', message: `${req.method} not allowed here` } });
  if (path === '/v1/status') return send(res, 200, d.status());
  if (path === '/v1/deferred') {
    return send(res, 200, { rows: d.replica.deferred(num('limit')).map((e) => ({ k: e.key, v: e.value, s: e.state, src: e.source, rx: e.received })) });
  }
  if (path.startsWith('/v1/keys/')) {
    const e = d.replica.get(keyOf(path, '/v1/keys/'));
    if (!e) return send(res, 404, { error: { code: 'HAMSYNC_ERR_KEY', message: 'no value for this key' } });
    return send(res, 200, { k: e.key, v: e.value, s: e.state, src: e.source });
  }
  if (path.startsWith('/v1/history/')) {
    const rows = d.replica.history(keyOf(path, '/v1/history/'), { from: num('from'), to: num('to'), limit: num('limit') });
    return send(res, 200, { rows: rows.map((e) => ({ k: e.key, v: e.value, s: e.state, src: e.source, outcome: e.outcome, deferred: e.deferred, rx: e.received })) });
  }
  send(res, 404, { error: { code: 'HAMSYNC_ERR_KEY', message: `no such endpoint: ${path}` } });
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

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HamsyncError('HAMSYNC_ERR_TOO_LARGE', `request body is over ${MAX_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch {
    throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', 'request body is not JSON');
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
