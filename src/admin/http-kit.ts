import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HamsyncError, describe, isHamsyncError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';

/** Largest request body read, in bytes. */
export const MAX_BODY = 1024 * 1024;

/** A request handler; a coded error it throws becomes {"error":{"code","message"}}. */
export type JsonHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>;

/** The HTTP status for a coded error: 413 too large, 503 a full queue (try later), else 400. */
export function errorStatus(code: ErrorCode): number {
  if (code === 'HAMSYNC_ERR_TOO_LARGE') return 413;
  if (code === 'HAMSYNC_ERR_OUTBOX_FULL' || code === 'HAMSYNC_ERR_DEFERRED_FULL' || code === 'HAMSYNC_ERR_QUARANTINE_FULL') return 503;
  if (code === 'HAMSYNC_ERR_CLOCK') return 503;
  return 400;
}

/**
 * Serves a local JSON API on `addr` (`what` names it in errors): errors are
 * {"error":{"code","message"}}, an unexpected one is logged and answered 500.
 */
export function serveJson(addr: { host: string; port: number }, what: string, handle: JsonHandler, log: Logger): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://local');
    handle(req, res, url).catch((err: unknown) => {
      if (isHamsyncError(err)) return send(res, errorStatus(err.code), { error: { code: err.code, message: err.message } });
      log.error('http handler failed', { err: (err as Error).message, url: req.url });
      send(res, 500, { error: { code: 'HAMSYNC_ERR_STORE', message: (err as Error).message } });
    });
  });
  server.keepAliveTimeout = 5000;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.message;
      reject(new HamsyncError('HAMSYNC_ERR_LISTEN', `cannot listen for ${what} on ${addr.host}:${addr.port}: ${why}`, { field: 'http' }));
    });
    server.listen(addr.port, addr.host, () => resolve({ server, port: (server.address() as AddressInfo).port }));
  });
}

/** These APIs have no authentication: they listen on loopback only (127.0.0.0/8, ::1, localhost). */
export function loopbackOnly(addr: { host: string; port: number }, field = 'http'): { host: string; port: number } {
  if (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr.host) || addr.host === '::1' || addr.host === 'localhost') return addr;
  throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must listen on a loopback address (127.0.0.1, ::1 or localhost): the API has no authentication; got ${describe(addr.host)}`, { field });
}

/** A numeric query parameter, or undefined when absent or empty. */
export function queryNumber(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new HamsyncError('HAMSYNC_ERR_STATE', `query parameter ${name} must be a number, got ${JSON.stringify(v)}`);
  return n;
}

/** Reads a JSON body (at most MAX_BODY bytes, checked while reading). */
export async function readBody(req: IncomingMessage): Promise<unknown> {
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

/**
 * For actions that change or delete data: the body must be declared JSON. A web page can
 * send a cross-origin POST to a loopback port, but not with this content type (that needs a
 * CORS preflight, which these APIs never grant).
 */
export function assertJsonRequest(req: IncomingMessage): void {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `this request must have content-type application/json, got ${describe(type ?? '')}`);
  }
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
