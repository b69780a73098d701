/**
 * The local HTTP APIs (daemon and broker admin) against cross-site requests and DNS rebinding,
 * with raw HTTP requests: a mutating route needs content-type application/json (a browser sends
 * text/plain and form bodies cross-site without a preflight), and every route refuses a Host
 * that is not the listening loopback address or localhost with its port. Also the route errors
 * (404 / 405 / 500), a key that is only deferred, a port in use, and the body read timeout.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startBroker } from '../../broker/server.js';
import { BODY_TIMEOUT_MS, serveJson, type Route } from '../../src/admin/http-kit.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { startHttpApi } from '../../src/daemon/http.js';
import { isHamsyncError } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import { closedPort } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  code?: string;
  body: Record<string, unknown>;
}

/** One raw request to 127.0.0.1:port with exactly the Host and content-type given (none when undefined). */
function raw(port: number, method: string, path: string, opts: { host?: string; type?: string; body?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (opts.host !== undefined) headers.host = opts.host;
  if (opts.type !== undefined) headers['content-type'] = opts.type;
  if (opts.body !== undefined) headers['content-length'] = String(Buffer.byteLength(opts.body));
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, setHost: false, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, code: (body.error as { code?: string } | undefined)?.code, body });
      });
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function daemonOn(t: TestContext, id: string): Promise<Daemon> {
  const dir = tempDir(t);
  const d = await Daemon.start({ id, broker: `mqtt://127.0.0.1:${await closedPort()}`, dataDir: join(dir, id), http: '127.0.0.1:0' });
  t.after(() => d.stop());
  return d;
}

test('daemon API: a put must be application/json; text/plain, a form or no type is refused (415) and nothing is stored', async (t) => {
  const d = await daemonOn(t, 'csrf');
  const port = d.httpPort;
  const host = `127.0.0.1:${port}`;
  const cases: [string, string | undefined, string][] = [
    ['text/plain', 'text/plain', '{"k":"csrf/plain","v":1}'],
    ['text/plain;charset=UTF-8', 'text/plain;charset=UTF-8', '{"k":"csrf/plain2","v":1}'],
    ['a form', 'application/x-www-form-urlencoded', '{"k":"csrf/form","v":1}'],
    ['multipart', 'multipart/form-data; boundary=x', '{"k":"csrf/multi","v":1}'],
    ['no content-type', undefined, '{"k":"csrf/none","v":1}'],
  ];
  for (const [name, type, body] of cases) {
    const a = await raw(port, 'POST', '/v1/put', { host, type, body });
    assert.deepEqual([a.status, a.code], [415, 'HAMSYNC_ERR_MEDIA_TYPE'], `${name}: ${JSON.stringify(a.body)}`);
  }
  for (const k of ['csrf/plain', 'csrf/plain2', 'csrf/form', 'csrf/multi', 'csrf/none']) assert.equal(d.replica.get(k), undefined, `${k} not stored`);
  const ok = await raw(port, 'POST', '/v1/put', { host, type: 'application/json; charset=utf-8', body: '{"k":"csrf/ok","v":1}' });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(d.replica.get('csrf/ok')?.value, 1);
  // The quarantine actions are guarded the same way.
  for (const path of ['/v1/quarantine/release', '/v1/quarantine/drop']) {
    const a = await raw(port, 'POST', path, { host, type: 'text/plain', body: '{"all":true}' });
    assert.deepEqual([a.status, a.code], [415, 'HAMSYNC_ERR_MEDIA_TYPE'], path);
  }
});

test('daemon API: a Host other than its loopback address or localhost (DNS rebinding) is refused on every route (403)', async (t) => {
  const d = await daemonOn(t, 'rebind');
  const port = d.httpPort;
  const bad = ['evil.example', `evil.example:${port}`, '127.0.0.1', `127.0.0.1:${port + 1}`, `localhost:${port + 1}`, `127.0.0.2:${port}`, ''];
  for (const host of bad) {
    for (const [method, path] of [['GET', '/v1/status'], ['GET', '/v1/keys/a'], ['GET', '/v1/deferred'], ['GET', '/nope']] as const) {
      const a = await raw(port, method, path, { host });
      assert.deepEqual([a.status, a.code], [403, 'HAMSYNC_ERR_HOST'], `${method} ${path} with Host ${JSON.stringify(host)}: ${JSON.stringify(a.body)}`);
    }
    const put = await raw(port, 'POST', '/v1/put', { host, type: 'application/json', body: '{"k":"rebind/x","v":1}' });
    assert.deepEqual([put.status, put.code], [403, 'HAMSYNC_ERR_HOST'], `put with Host ${JSON.stringify(host)}`);
  }
  assert.equal(d.replica.get('rebind/x'), undefined, 'nothing stored through a foreign Host');
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`]) {
    assert.equal((await raw(port, 'GET', '/v1/status', { host })).status, 200, `Host ${host} is allowed`);
  }
  assert.equal((await raw(port, 'POST', '/v1/put', { host: `localhost:${port}`, type: 'application/json', body: '{"k":"rebind/ok","v":2}' })).status, 200);
  assert.equal(d.replica.get('rebind/ok')?.value, 2);
});

test('broker admin API: the same Host and content-type guards', async (t) => {
  const dir = tempDir(t);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), http: { host: '127.0.0.1', port: 0 } });
  t.after(() => broker.close());
  const port = broker.httpPort as number;
  assert.equal(typeof port, 'number');
  const host = `127.0.0.1:${port}`;
  assert.deepEqual([(await raw(port, 'GET', '/v1/status', { host: 'evil.example' })).code], ['HAMSYNC_ERR_HOST']);
  assert.deepEqual([(await raw(port, 'GET', '/v1/status', { host: `evil.example:${port}` })).status], [403]);
  assert.equal((await raw(port, 'GET', '/v1/status', { host })).status, 200);
  assert.equal((await raw(port, 'GET', '/v1/status', { host: `localhost:${port}` })).status, 200);
  for (const type of ['text/plain', 'application/x-www-form-urlencoded', undefined]) {
    const a = await raw(port, 'POST', '/v1/quarantine/drop', { host, type, body: '{"all":true}' });
    assert.deepEqual([a.status, a.code], [415, 'HAMSYNC_ERR_MEDIA_TYPE'], `drop as ${String(type)}`);
  }
  const rebound = await raw(port, 'POST', '/v1/quarantine/drop', { host: 'evil.example', type: 'application/json', body: '{"all":true}' });
  assert.deepEqual([rebound.status, rebound.code], [403, 'HAMSYNC_ERR_HOST']);
  const ok = await raw(port, 'POST', '/v1/quarantine/drop', { host, type: 'application/json', body: '{"all":true}' });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  const unknown = await raw(port, 'GET', '/v1/keys/a', { host });
  assert.deepEqual([unknown.status, unknown.code], [404, 'HAMSYNC_ERR_NOT_FOUND'], 'the broker has no /v1/keys');
});

test('route errors: unknown route 404 NOT_FOUND, wrong method 405 METHOD with Allow, a missing key 404 NOT_FOUND', async (t) => {
  const d = await daemonOn(t, 'routes');
  const port = d.httpPort;
  const host = `127.0.0.1:${port}`;
  const nope = await raw(port, 'GET', '/v1/nope', { host });
  assert.deepEqual([nope.status, nope.code], [404, 'HAMSYNC_ERR_NOT_FOUND']);
  const cases: [string, string, string][] = [
    ['GET', '/v1/put', 'POST'],
    ['DELETE', '/v1/put', 'POST'],
    ['POST', '/v1/status', 'GET'],
    ['PUT', '/v1/keys/a', 'GET'],
    ['GET', '/v1/quarantine/drop', 'POST'],
  ];
  for (const [method, path, allow] of cases) {
    const a = await raw(port, method, path, { host, type: 'application/json', body: '{}' });
    assert.deepEqual([a.status, a.code, a.headers.allow], [405, 'HAMSYNC_ERR_METHOD', allow], `${method} ${path}: ${JSON.stringify(a.body)}`);
  }
  const missing = await raw(port, 'GET', '/v1/keys/no/such/key', { host });
  assert.deepEqual([missing.status, missing.code], [404, 'HAMSYNC_ERR_NOT_FOUND']);
  assert.match(String((missing.body.error as { message: string }).message), /no\/such\/key/);
});

test('a key that has only a deferred update answers 404 HAMSYNC_ERR_DEFERRED_ONLY with the count and the earliest state', async (t) => {
  const d = await daemonOn(t, 'later');
  const port = d.httpPort;
  const host = `127.0.0.1:${port}`;
  const s = Date.now() + 3_600_000;
  const put = await raw(port, 'POST', '/v1/put', { host, type: 'application/json', body: JSON.stringify({ u: [{ k: 'later/x', v: 1, s }, { k: 'later/x', v: 2, s: s + 1000 }] }) });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual((put.body.results as { decision: string }[]).map((r) => r.decision), ['defer', 'defer']);
  const a = await raw(port, 'GET', '/v1/keys/later%2Fx', { host });
  assert.deepEqual([a.status, a.code], [404, 'HAMSYNC_ERR_DEFERRED_ONLY'], JSON.stringify(a.body));
  const e = a.body.error as { deferred: number; quarantined: number; earliest: number };
  assert.deepEqual([e.deferred, e.quarantined, e.earliest], [2, 0, s]);
  // Beyond the horizon (30 days): quarantined, the same answer with the count under "quarantined".
  const far = Date.now() + 60 * 86_400_000;
  const q = await raw(port, 'POST', '/v1/put', { host, type: 'application/json', body: JSON.stringify({ k: 'later/q', v: 3, s: far }) });
  assert.deepEqual((q.body.results as { decision: string }[]).map((r) => r.decision), ['quarantine']);
  const held = await raw(port, 'GET', '/v1/keys/later%2Fq', { host });
  assert.equal(held.code, 'HAMSYNC_ERR_DEFERRED_ONLY');
  const he = held.body.error as { deferred: number; quarantined: number; earliest: number };
  assert.deepEqual([he.deferred, he.quarantined, he.earliest], [0, 1, far]);
  const other = await raw(port, 'GET', '/v1/keys/later%2Fy', { host });
  assert.equal(other.code, 'HAMSYNC_ERR_NOT_FOUND', 'a key with nothing waiting is plain not found');
});

test('an unexpected fault is 500 HAMSYNC_ERR_INTERNAL (logged), not a reused input code', async (t) => {
  const logged: string[] = [];
  const log = { ...silentLogger, error: (msg: string) => void logged.push(msg) };
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/boom',
      handle: () => {
        throw new TypeError('cannot read properties of undefined');
      },
    },
  ];
  const { server, port } = await serveJson({ host: '127.0.0.1', port: 0 }, 'a test API', routes, log);
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const a = await raw(port, 'GET', '/boom', { host: `127.0.0.1:${port}` });
  assert.deepEqual([a.status, a.code], [500, 'HAMSYNC_ERR_INTERNAL']);
  assert.deepEqual(logged, ['http handler failed']);
});

test('a handler that fails after answering keeps its answer (no second response, no crash)', async (t) => {
  const routes: Route[] = [
    {
      method: 'GET',
      path: '/late',
      handle: ({ res }) => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        throw new Error('fails after the answer');
      },
    },
  ];
  const { server, port } = await serveJson({ host: '127.0.0.1', port: 0 }, 'a test API', routes, silentLogger);
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const a = await raw(port, 'GET', '/late', { host: `127.0.0.1:${port}` });
  assert.deepEqual([a.status, a.body], [200, { ok: true }]);
});

test('an HTTP port in use: the daemon API refuses to start with HAMSYNC_ERR_LISTEN naming the address', async (t) => {
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  const port = (blocker.address() as net.AddressInfo).port;
  await assert.rejects(startHttpApi({ host: '127.0.0.1', port }, () => undefined, silentLogger), (err: unknown) => {
    assert.ok(isHamsyncError(err, 'HAMSYNC_ERR_LISTEN'), String(err));
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}: the port is in use`));
    return true;
  });
});

/**
 * Sends the headers of a POST with a 100-byte body, then one byte every `everyMs`; resolves
 * when the server closes the connection, with what it answered and how long it took (or when
 * this side gives up after `giveUpMs` and closes it: then there is no 408 in `text`).
 */
function slowloris(port: number, everyMs: number, giveUpMs: number): Promise<{ text: string; ms: number; sent: number }> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let sent = 0;
    socket.setEncoding('utf8');
    socket.on('data', (s: string) => (text += s));
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
    // Bounded: at most 98 more bytes, then the body would be complete.
    const timer = setInterval(() => {
      if (sent >= 98 || socket.destroyed) return clearInterval(timer);
      sent++;
      socket.write(' ');
    }, everyMs);
    const giveUp = setTimeout(() => socket.destroy(), giveUpMs);
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ text, ms: Date.now() - start, sent });
    });
    socket.write(`POST /v1/put HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
  });
}

test('a request body trickled byte by byte (slowloris) gets 408 HAMSYNC_ERR_BODY_TIMEOUT and the socket is closed', { timeout: 20_000 }, async (t) => {
  const routes: Route[] = [{ method: 'POST', path: '/v1/put', handle: () => assert.fail('the handler must not run') }];
  const { server, port } = await serveJson({ host: '127.0.0.1', port: 0 }, 'a test API', routes, silentLogger, { bodyTimeoutMs: 300 });
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const r = await slowloris(port, 50, 5000);
  assert.match(r.text, /^HTTP\/1\.1 408 /, r.text);
  assert.match(r.text, /HAMSYNC_ERR_BODY_TIMEOUT/);
  assert.ok(r.ms >= 300 && r.ms < 5000, `closed after ${r.ms} ms`);
  assert.ok(r.sent < 98, 'closed before the body was complete');
});

test(`the daemon API applies the default body read timeout (${BODY_TIMEOUT_MS} ms)`, { timeout: 30_000 }, async (t) => {
  assert.equal(BODY_TIMEOUT_MS, 10_000);
  const d = await daemonOn(t, 'slow');
  const r = await slowloris(d.httpPort, 500, 20_000);
  assert.match(r.text, /^HTTP\/1\.1 408 /, r.text);
  assert.match(r.text, /HAMSYNC_ERR_BODY_TIMEOUT/);
  assert.ok(r.ms >= BODY_TIMEOUT_MS - 100 && r.ms < BODY_TIMEOUT_MS + 5000, `closed after ${r.ms} ms`);
});
