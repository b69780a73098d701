/**
 * Hostile and broken input at the hub (an in-process broker on port 0) and at the CLI.
 * Every bad MQTT message is acknowledged (so a sender does not retry it forever) but rejected:
 * counted under its HAMSYNC_ERR_* code, not stored, not forwarded, not retained; a valid put
 * afterwards still works. Bad CLI invocations exit non-zero with one line on stderr.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { startBroker } from '../../broker/server.js';
import { api, closedPort, Harness, historyOf, runCli, statusOf, type CliResult } from '../helpers/procs.js';
import { sleep, until } from '../helpers/wait.js';

const PUT = 'hamsync/default/put/d1';

interface Case {
  name: string;
  payload: string | Buffer;
  code: string;
  topic?: string;
  retain?: boolean;
  /** Keys that must not be stored because of it. */
  keys?: string[];
}

function putOf(u: unknown, src: unknown = 'd1'): string {
  return JSON.stringify({ src, u });
}

test('bad messages are acknowledged, rejected with the right code, not stored and not forwarded', { timeout: 55_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: h.tempDir('hub') });
  h.defer(() => broker.close());
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const watcher = await h.watch(url, ['hamsync/default/put/+', 'hamsync/default/state/#', 'hamsync/default/sync/res/+'], 'watch');
  const pub = await h.mqtt(url, 'evil');
  const now = Date.now() - 1000;

  const cases: Case[] = [
    { name: 'garbage bytes', payload: Buffer.from([0xff, 0xfe, 0x00, 0x7b, 0x80, 0x22, 0x0a]), code: 'HAMSYNC_ERR_PAYLOAD' },
    { name: 'empty payload', payload: '', code: 'HAMSYNC_ERR_PAYLOAD' },
    { name: 'truncated JSON', payload: '{"src":"d1","u":[{"k":"bad/trunc","v":1,"s":1', code: 'HAMSYNC_ERR_PAYLOAD', keys: ['bad/trunc'] },
    { name: 'JSON array', payload: JSON.stringify([{ k: 'bad/array', v: 1, s: now }]), code: 'HAMSYNC_ERR_PAYLOAD', keys: ['bad/array'] },
    { name: 'JSON number', payload: '42', code: 'HAMSYNC_ERR_PAYLOAD' },
    { name: 'JSON string', payload: '"hello"', code: 'HAMSYNC_ERR_PAYLOAD' },
    { name: 'JSON null', payload: 'null', code: 'HAMSYNC_ERR_PAYLOAD' },
    { name: 'missing u', payload: '{"src":"d1"}', code: 'HAMSYNC_ERR_PAYLOAD' },
    { name: 'u is an object', payload: putOf({ k: 'bad/uobj', v: 1, s: now }), code: 'HAMSYNC_ERR_PAYLOAD', keys: ['bad/uobj'] },
    { name: 'u is empty', payload: putOf([]), code: 'HAMSYNC_ERR_PAYLOAD' },
    { name: 'u holds a number', payload: putOf([1]), code: 'HAMSYNC_ERR_PAYLOAD' },
    { name: 'u holds an array', payload: putOf([['bad/uarr', 1, now]]), code: 'HAMSYNC_ERR_PAYLOAD', keys: ['bad/uarr'] },
    { name: 'update without v', payload: putOf([{ k: 'bad/nov', s: now }]), code: 'HAMSYNC_ERR_PAYLOAD', keys: ['bad/nov'] },
    { name: 'update without k', payload: putOf([{ v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY' },
    { name: 'k is a number', payload: putOf([{ k: 5, v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY', keys: ['5'] },
    { name: 'state "NaN" (a string)', payload: '{"src":"d1","u":[{"k":"bad/nan","v":1,"s":"NaN"}]}', code: 'HAMSYNC_ERR_STATE', keys: ['bad/nan'] },
    { name: 'state NaN (bare, not JSON)', payload: '{"src":"d1","u":[{"k":"bad/nan2","v":1,"s":NaN}]}', code: 'HAMSYNC_ERR_PAYLOAD', keys: ['bad/nan2'] },
    { name: 'state 1e999 (Infinity)', payload: '{"src":"d1","u":[{"k":"bad/inf","v":1,"s":1e999}]}', code: 'HAMSYNC_ERR_STATE', keys: ['bad/inf'] },
    { name: 'state -1e999 (-Infinity)', payload: '{"src":"d1","u":[{"k":"bad/ninf","v":1,"s":-1e999}]}', code: 'HAMSYNC_ERR_STATE', keys: ['bad/ninf'] },
    { name: 'state "Infinity" (a string)', payload: '{"src":"d1","u":[{"k":"bad/sinf","v":1,"s":"Infinity"}]}', code: 'HAMSYNC_ERR_STATE', keys: ['bad/sinf'] },
    { name: 'state "123" (a numeric string)', payload: putOf([{ k: 'bad/snum', v: 1, s: '123' }]), code: 'HAMSYNC_ERR_STATE', keys: ['bad/snum'] },
    { name: 'state null', payload: putOf([{ k: 'bad/snull', v: 1, s: null }]), code: 'HAMSYNC_ERR_STATE', keys: ['bad/snull'] },
    { name: 'state missing', payload: putOf([{ k: 'bad/smissing', v: 1 }]), code: 'HAMSYNC_ERR_STATE', keys: ['bad/smissing'] },
    { name: 'key of 300 bytes', payload: putOf([{ k: 'k'.repeat(300), v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY', keys: ['k'.repeat(300)] },
    { name: 'key of 300 bytes (multi-byte)', payload: putOf([{ k: 'é'.repeat(150), v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY', keys: ['é'.repeat(150)] },
    { name: 'key a//b', payload: putOf([{ k: 'a//b', v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY', keys: ['a//b'] },
    { name: 'key a/+/b', payload: putOf([{ k: 'a/+/b', v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY', keys: ['a/+/b'] },
    { name: 'key a/#', payload: putOf([{ k: 'a/#', v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY', keys: ['a/#'] },
    { name: 'key /a', payload: putOf([{ k: '/a', v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY', keys: ['/a'] },
    { name: 'empty key', payload: putOf([{ k: '', v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY', keys: [''] },
    { name: 'key with a control character', payload: putOf([{ k: 'a/b\u0000c', v: 1, s: now }]), code: 'HAMSYNC_ERR_KEY', keys: ['a/b\u0000c'] },
    {
      name: 'one bad update spoils its whole batch',
      payload: putOf([
        { k: 'bad/batch-ok', v: 'would be fine alone', s: now },
        { k: 'a//b', v: 1, s: now },
      ]),
      code: 'HAMSYNC_ERR_KEY',
      keys: ['bad/batch-ok'],
    },
    { name: 'value over 64 KiB', payload: putOf([{ k: 'bad/bigvalue', v: 'v'.repeat(70_000), s: now }]), code: 'HAMSYNC_ERR_VALUE_TOO_LARGE', keys: ['bad/bigvalue'] },
    { name: 'payload over 256 KiB', payload: putOf([{ k: 'bad/huge', v: 'x'.repeat(300 * 1024), s: now }]), code: 'HAMSYNC_ERR_TOO_LARGE', keys: ['bad/huge'] },
    { name: 'src differs from the topic\'s device', payload: putOf([{ k: 'bad/spoof', v: 1, s: now }], 'd2'), code: 'HAMSYNC_ERR_TOPIC', keys: ['bad/spoof'] },
    { name: 'src missing', payload: JSON.stringify({ u: [{ k: 'bad/nosrc', v: 1, s: now }] }), code: 'HAMSYNC_ERR_TOPIC', keys: ['bad/nosrc'] },
    { name: 'device id in the topic is not a valid id', topic: 'hamsync/default/put/bad!id', payload: putOf([{ k: 'bad/devid', v: 1, s: now }], 'bad!id'), code: 'HAMSYNC_ERR_SOURCE', keys: ['bad/devid'] },
    {
      name: 'a client publishing on a state topic (retained)',
      topic: 'hamsync/default/state/bad/forged',
      payload: JSON.stringify({ v: 'forged', s: now, src: 'd1' }),
      retain: true,
      code: 'HAMSYNC_ERR_TOPIC',
      keys: ['bad/forged'],
    },
    { name: 'a catch-up request that is not JSON', topic: 'hamsync/default/sync/req/d1', payload: 'nope', code: 'HAMSYNC_ERR_PAYLOAD' },
    {
      name: 'a client forging a catch-up answer',
      topic: 'hamsync/default/sync/res/d2',
      payload: JSON.stringify({ pv: 1, id: 'x', u: [{ k: 'bad/forged-sync', v: 1, s: now, src: 'd9' }], done: true }),
      code: 'HAMSYNC_ERR_TOPIC',
      keys: ['bad/forged-sync'],
    },
    { name: 'a topic protocol v1 does not have', topic: 'hamsync/default/nonsense/x', payload: '{}', code: 'HAMSYNC_ERR_TOPIC' },
  ];

  for (const c of cases) {
    const before = broker.hub.counters.snapshot();
    // Acknowledged: publishAsync resolves (a PUBACK came back).
    await pub.publishAsync(c.topic ?? PUT, c.payload, { qos: 1, retain: c.retain ?? false });
    const after = broker.hub.counters.snapshot();
    const delta = (name: string): number => (after[name] ?? 0) - (before[name] ?? 0);
    assert.equal(delta(`rejected.${c.code}`), 1, `${c.name}: counted under rejected.${c.code}; counters now ${JSON.stringify(after)}`);
    assert.equal(delta('messages.rejected'), 1, `${c.name}: counted once as rejected`);
    assert.equal(delta('messages.accepted'), 0, `${c.name}: not accepted`);
    assert.equal(delta('updates.accepted'), 0, `${c.name}: no update accepted`);
    for (const k of c.keys ?? []) {
      assert.equal(broker.replica.get(k), undefined, `${c.name}: ${JSON.stringify(k.slice(0, 40))} must not be stored`);
      assert.deepEqual(broker.replica.history(k), [], `${c.name}: no history for ${JSON.stringify(k.slice(0, 40))}`);
    }
  }
  assert.equal(broker.hub.counters.get('messages.rejected'), cases.length);
  assert.equal(broker.hub.counters.get('messages.accepted'), 0);

  // A valid put afterwards still works: stored, published as state, forwarded to subscribers.
  const okPayload = putOf([{ k: 'ok/after', v: 'fine', s: now }]);
  await pub.publishAsync(PUT, okPayload, { qos: 1 });
  assert.equal(broker.hub.counters.get('messages.accepted'), 1);
  assert.equal(broker.hub.counters.get('updates.accepted'), 1);
  assert.deepEqual(broker.replica.get('ok/after'), { key: 'ok/after', value: 'fine', state: now, source: 'd1' });
  await until(() => watcher.last(PUT) && watcher.last('hamsync/default/state/ok/after'), { timeoutMs: 5000, what: 'the valid put to be forwarded and its state published' });
  await sleep(200);
  // Same publisher, in order: had any bad message been forwarded it would have arrived before
  // the valid put. (The state may be published before or after the put is forwarded.)
  assert.deepEqual(
    watcher.messages.map((m) => m.topic).sort(),
    [PUT, 'hamsync/default/state/ok/after'],
    `only the valid put and its state may reach subscribers; got ${watcher.messages.map((m) => `${m.topic} ${m.text.slice(0, 80)}`).join(' | ')}`,
  );
  assert.equal(watcher.last(PUT)?.text, okPayload);
  assert.deepEqual(watcher.last('hamsync/default/state/ok/after')?.json, { v: 'fine', s: now, src: 'd1' });

  // Nothing of it in the hub's store, and nothing retained on the forged state topic.
  assert.deepEqual([...broker.replica.live()].map((e) => e.key), ['ok/after']);
  assert.deepEqual(broker.replica.deferred(), []);
  const late = await h.watch(url, ['hamsync/default/state/#'], 'late');
  await until(() => late.messages.length > 0, { timeoutMs: 3000, what: 'the retained state of ok/after' });
  await sleep(300);
  assert.deepEqual(late.messages.map((m) => [m.topic, m.retain]), [['hamsync/default/state/ok/after', true]]);

  await h.endClients();
});

/** stderr without the JSON log lines: what a person reads. */
function humanLines(r: CliResult): string[] {
  return r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{"level"'));
}

function assertOneLineError(r: CliResult, what: string): string {
  assert.notEqual(r.code, 0, `${what}: must exit non-zero; stderr: ${r.stderr}`);
  assert.equal(r.signal, null);
  const lines = humanLines(r);
  assert.equal(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(lines)}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack trace`);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
  return lines[0] as string;
}

test('CLI: status against a closed port fails with one line', { timeout: 30_000 }, async () => {
  const port = await closedPort();
  const r = await runCli(['status', '--http', `127.0.0.1:${port}`]);
  const line = assertOneLineError(r, 'status on a closed port');
  assert.match(line, new RegExp(`127\\.0\\.0\\.1:${port}`), 'names the address it tried');
});

test('CLI: broker on a port in use fails with one line naming the port', { timeout: 30_000 }, async (t) => {
  const h = new Harness(t);
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  h.defer(() => new Promise((r) => blocker.close(r)));
  const port = (blocker.address() as net.AddressInfo).port;
  const r = await runCli(['broker', '--host', '127.0.0.1', '--port', String(port), '--data-dir', h.tempDir('hub')]);
  const line = assertOneLineError(r, 'broker on a port in use');
  assert.match(line, new RegExp(`\\b${port}\\b`), `names the port ${port}: ${line}`);
  assert.match(line, /in use/);
});

test('CLI: daemon with a bad --id fails with one line naming the field', { timeout: 30_000 }, async (t) => {
  const h = new Harness(t);
  const r = await runCli(['daemon', '--id', 'bad id!', '--data-dir', h.tempDir('dev'), '--http', '127.0.0.1:0', '--broker', `mqtt://127.0.0.1:${await closedPort()}`]);
  const line = assertOneLineError(r, 'daemon --id "bad id!"');
  assert.ok(line.includes('bad id!'), `quotes the value it got: ${line}`);
  // The field must be named as such, not merely appear inside the quoted value.
  const withoutValue = line.replaceAll('"bad id!"', '').replaceAll('bad id!', '');
  assert.match(withoutValue, /(--id|\bid\b)/, `names the field "id" (the option is --id): ${line}`);
});

test('HTTP API: bad puts get 400 with the right code; nothing is stored or queued for the broker', { timeout: 30_000 }, async (t) => {
  const h = new Harness(t);
  // No broker needed: an outbox entry for a bad put would stay visible in status.
  const d = await h.daemon({ id: 'web', broker: `mqtt://127.0.0.1:${await closedPort()}` });
  const bad: [string, string, string][] = [
    ['not JSON', 'nope', 'HAMSYNC_ERR_PAYLOAD'],
    ['null', 'null', 'HAMSYNC_ERR_UPDATE'],
    ['empty u', '{"u":[]}', 'HAMSYNC_ERR_UPDATE'],
    ['no v', '{"k":"web/nov"}', 'HAMSYNC_ERR_UPDATE'],
    ['key a//b', '{"k":"a//b","v":1}', 'HAMSYNC_ERR_KEY'],
    ['key a/+/b', '{"k":"a/+/b","v":1}', 'HAMSYNC_ERR_KEY'],
    ['key of 300 bytes', JSON.stringify({ k: 'k'.repeat(300), v: 1 }), 'HAMSYNC_ERR_KEY'],
    ['key not a string', '{"k":5,"v":1}', 'HAMSYNC_ERR_KEY'],
    ['state 1e999', '{"k":"web/inf","v":1,"s":1e999}', 'HAMSYNC_ERR_STATE'],
    ['state "NaN"', '{"k":"web/nan","v":1,"s":"NaN"}', 'HAMSYNC_ERR_STATE'],
    ['value over 64 KiB', JSON.stringify({ k: 'web/big', v: 'v'.repeat(70_000) }), 'HAMSYNC_ERR_VALUE_TOO_LARGE'],
    ['one bad update in a batch', JSON.stringify({ u: [{ k: 'web/fine', v: 1 }, { k: 'a//b', v: 2 }] }), 'HAMSYNC_ERR_KEY'],
  ];
  for (const [name, body, code] of bad) {
    const res = await rawPost(d.http, '/v1/put', body);
    assert.equal(res.status, 400, `${name}: HTTP ${res.status} ${res.text}`);
    assert.equal((JSON.parse(res.text) as { error: { code: string } }).error.code, code, `${name}: ${res.text}`);
  }
  const tooBig = await rawPost(d.http, '/v1/put', JSON.stringify({ k: 'web/huge', v: 'x'.repeat(1100 * 1024) }));
  assert.equal(tooBig.status, 413, `a body over 1 MiB: ${tooBig.text}`);
  const s = await statusOf(d.http);
  assert.equal(s.live, 0, 'nothing stored');
  assert.deepEqual(s.outbox, { messages: 0, updates: 0, inflight: 0 }, 'nothing queued for the broker');
  for (const k of ['web/fine', 'web/nov', 'web/inf', 'web/nan', 'web/big']) assert.deepEqual(await historyOf(d.http, k), [], k);

  // The CLI reports such an error in one line and exits non-zero.
  const r = await runCli(['put', 'a/+/b', '1', '--http', d.http]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /HAMSYNC_ERR_KEY/);
  await h.stopAll();
});

test('HTTP API: a malformed %-escape in a key path is a client error (400), not a server error', { timeout: 30_000 }, async (t) => {
  const h = new Harness(t);
  const d = await h.daemon({ id: 'web2', broker: `mqtt://127.0.0.1:${await closedPort()}` });
  const keys = await api(d.http, 'GET', '/v1/keys/%E0%A4%A');
  const history = await api(d.http, 'GET', '/v1/history/%');
  await h.stopAll();
  assert.deepEqual([keys.status, (keys.body as { error?: { code?: string } }).error?.code], [400, 'HAMSYNC_ERR_KEY'], `GET /v1/keys/%E0%A4%A: ${JSON.stringify(keys)}`);
  assert.deepEqual([history.status, (history.body as { error?: { code?: string } }).error?.code], [400, 'HAMSYNC_ERR_KEY'], `GET /v1/history/%: ${JSON.stringify(history)}`);
});

/** POSTs a raw body (not necessarily JSON) to a daemon's HTTP API. */
function rawPost(http: string, path: string, body: string): Promise<{ status: number; text: string }> {
  const [host, port] = http.split(':');
  return new Promise((resolve, reject) => {
    const req = request({ host, port: Number(port), method: 'POST', path, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    // The server may answer 413 and close before it has read the whole body.
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'EPIPE' || err.code === 'ECONNRESET' ? undefined : reject(err)));
    req.end(body);
  });
}
