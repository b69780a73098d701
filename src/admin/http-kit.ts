import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { SecureContextOptions, TlsOptions } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { HamsyncError, describe, isHamsyncError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import { parseInstant } from '../util/instant.js';
import { readBody } from './http-body.js';

export { BODY_TIMEOUT_MS, MAX_BODY } from './http-body.js';

/** What a route's handler gets: the request, the response, the parsed URL and (POST) the JSON body. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  body: unknown;
}

/**
 * One route: `path` is exact, or a prefix when it ends with `/*` (`/v1/keys/*`).
 * A POST route's body must be `application/json`; it is read (bounded in size and time) before `handle`.
 */
export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handle(ctx: RouteContext): Promise<void> | void;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  HAMSYNC_ERR_AUTH: 401,
  HAMSYNC_ERR_NOT_FOUND: 404,
  HAMSYNC_ERR_DEFERRED_ONLY: 404,
  HAMSYNC_ERR_METHOD: 405,
  HAMSYNC_ERR_HOST: 403,
  HAMSYNC_ERR_BODY_TIMEOUT: 408,
  HAMSYNC_ERR_TOO_LARGE: 413,
  HAMSYNC_ERR_MEDIA_TYPE: 415,
  HAMSYNC_ERR_INTERNAL: 500,
  HAMSYNC_ERR_CLOSED: 503,
  HAMSYNC_ERR_OUTBOX_FULL: 503,
  HAMSYNC_ERR_DEFERRED_FULL: 503,
  HAMSYNC_ERR_QUARANTINE_FULL: 503,
  HAMSYNC_ERR_CLOCK: 503,
  HAMSYNC_ERR_STREAMS: 503,
  HAMSYNC_ERR_VERIFY_FULL: 503,
};

/**
 * The HTTP status for a coded error: 404 no such route or key, 405 wrong method, 403 wrong Host,
 * 408 body too slow, 413 too large, 415 not JSON, 500 unexpected, 503 closing or a full queue
 * (try later), else 400 (bad input).
 */
export function errorStatus(code: ErrorCode): number {
  return STATUS[code] ?? 400;
}

/**
 * An API served beyond loopback (the broker's admin API, broker/web/admin-login.ts): over TLS,
 * every request logged in (`authorize` throws HAMSYNC_ERR_AUTH, answered 401 with a Basic
 * challenge), any Host (a rebinding page cannot pass TLS for this name, nor log in).
 */
export interface Remote {
  tls: SecureContextOptions & Pick<TlsOptions, 'minVersion'>;
  authorize(req: IncomingMessage): Promise<void>;
}

export interface ServeOptions {
  /** Longest wait for a request body to arrive whole, in ms. [BODY_TIMEOUT_MS] */
  bodyTimeoutMs?: number;
  /** Serve beyond loopback: TLS and a login (see Remote). Default: loopback rules. */
  remote?: Remote;
}

/**
 * Serves a local JSON API on `addr` (`what` names it in errors). Every request must name this
 * server in its Host header (see allowedHosts); an unknown path is 404 HAMSYNC_ERR_NOT_FOUND, a
 * known path with another method 405 HAMSYNC_ERR_METHOD (with Allow). Errors are
 * {"error":{"code","message",...details}}; an unexpected one is logged and answered 500 HAMSYNC_ERR_INTERNAL.
 */
export function serveJson(addr: { host: string; port: number }, what: string, routes: readonly Route[], log: Logger, options: ServeOptions = {}): Promise<{ server: Server; port: number }> {
  let hosts = new Set<string>();
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://local');
    dispatch(routes, hosts, req, res, url, options).catch((err: unknown) => {
      if (isHamsyncError(err)) return fail(req, res, err);
      log.error('http handler failed', { err, url: req.url?.slice(0, 200) });
      fail(req, res, new HamsyncError('HAMSYNC_ERR_INTERNAL', `${what} failed on ${req.method ?? ''} ${url.pathname.slice(0, 200)}: ${(err as Error).message}`));
    });
  };
  const server: Server = options.remote ? createHttpsServer(options.remote.tls, handler) : createServer(handler);
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.message;
      reject(new HamsyncError('HAMSYNC_ERR_LISTEN', `cannot listen for ${what} on ${addr.host}:${addr.port}: ${why}`, { field: 'http' }));
    });
    server.listen(addr.port, addr.host, () => {
      const port = (server.address() as AddressInfo).port;
      hosts = allowedHosts(addr.host, port);
      resolve({ server, port });
    });
  });
}

async function dispatch(routes: readonly Route[], hosts: ReadonlySet<string>, req: IncomingMessage, res: ServerResponse, url: URL, options: ServeOptions): Promise<void> {
  if (options.remote) await options.remote.authorize(req);
  else assertHost(req, hosts);
  const matching = routes.filter((r) => (r.path.endsWith('/*') ? url.pathname.startsWith(r.path.slice(0, -1)) : url.pathname === r.path));
  if (matching.length === 0) throw new HamsyncError('HAMSYNC_ERR_NOT_FOUND', `no such endpoint: ${describe(url.pathname)}`);
  const route = matching.find((r) => r.method === req.method);
  if (!route) {
    const allow = [...new Set(matching.map((r) => r.method))].join(', ');
    throw new HamsyncError('HAMSYNC_ERR_METHOD', `${describe(req.method ?? '')} is not allowed on ${url.pathname}; use ${allow}`, { allow });
  }
  let body: unknown;
  if (route.method === 'POST') {
    assertJsonRequest(req);
    body = await readBody(req, options.bodyTimeoutMs);
  }
  await route.handle({ req, res, url, body });
}

/** The Host values a loopback API answers: its own address with its port, and localhost with its port. */
export function allowedHosts(host: string, port: number): Set<string> {
  const names = host === 'localhost' ? ['localhost', '127.0.0.1', '[::1]'] : [host.includes(':') ? `[${host}]` : host, 'localhost'];
  return new Set(names.map((n) => `${n.toLowerCase()}:${port}`));
}

/**
 * DNS rebinding: a page from evil.example whose name now resolves to 127.0.0.1 reaches this port,
 * but its requests still say `Host: evil.example`.
 */
function assertHost(req: IncomingMessage, hosts: ReadonlySet<string>): void {
  const host = req.headers.host ?? '';
  if (!hosts.has(host.toLowerCase())) {
    throw new HamsyncError('HAMSYNC_ERR_HOST', `Host ${describe(host)} is not this API's address (${[...hosts].join(' or ')})`, { field: 'host' });
  }
}

/**
 * For actions that change or delete data: the body must be declared JSON. A web page can
 * send a cross-origin POST to a loopback port, but not with this content type (that needs a
 * CORS preflight, which these APIs never grant).
 */
export function assertJsonRequest(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HamsyncError('HAMSYNC_ERR_MEDIA_TYPE', `this request must have content-type application/json, got ${describe(type ?? '')}`, { field: 'content-type' });
  }
}

/** Answers a coded error; a body too slow or too large also closes the connection (its rest is never read). */
function fail(req: IncomingMessage, res: ServerResponse, err: HamsyncError): void {
  if (res.headersSent) {
    // Failed after answering: the answer stands; cut one that is only half written.
    if (!res.writableEnded) req.socket.destroy();
    return;
  }
  const close = err.code === 'HAMSYNC_ERR_BODY_TIMEOUT' || err.code === 'HAMSYNC_ERR_TOO_LARGE';
  const headers: Record<string, string> = close ? { connection: 'close' } : {};
  if (err.code === 'HAMSYNC_ERR_METHOD') headers.allow = String(err.details.allow);
  if (err.code === 'HAMSYNC_ERR_AUTH') headers['www-authenticate'] = 'Basic realm="hamsync admin", charset="UTF-8"';
  const details = err.code === 'HAMSYNC_ERR_DEFERRED_ONLY' ? err.details : {};
  send(res, errorStatus(err.code), { error: { code: err.code, message: err.message, ...details } }, headers);
  if (close) res.once('finish', () => req.socket.destroy());
}

/** Whether a host is a loopback address (127.0.0.0/8, ::1, localhost). */
export function isLoopback(host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || host === '::1' || host === 'localhost';
}

/** These APIs have no authentication: they listen on loopback only (127.0.0.0/8, ::1, localhost). */
export function loopbackOnly(addr: { host: string; port: number }, field = 'http'): { host: string; port: number } {
  if (isLoopback(addr.host)) return addr;
  throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must listen on a loopback address (127.0.0.1, ::1 or localhost): the API has no authentication; got ${describe(addr.host)}`, { field });
}

/** A numeric query parameter, or undefined when absent or empty. */
export function queryNumber(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new HamsyncError('HAMSYNC_ERR_STATE', `query parameter ${name} must be a number, got ${describe(v)}`, { field: name });
  return n;
}

/** A state/time query parameter (ISO 8601 or a number, see parseInstant), or undefined when absent or empty. */
export function queryInstant(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  return parseInstant(v, `query parameter ${name}`);
}

export function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
