/**
 * The command line as a user meets it: value parsing of `put`, exit codes, `--json` output,
 * and prompt clean exits on SIGTERM. (Help and version: cli-help.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliJson, closedPort, getKey, Harness, runCli, statusOf, type HistoryRow, type KeyView, type StatusView } from '../helpers/procs.js';
import { until } from '../helpers/wait.js';

test('CLI: put parses JSON values, get/history/deferred/status print JSON, a missing key exits non-zero', { timeout: 50_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await h.broker();
  const d = await h.daemon({ id: 'cli', broker: broker.url });
  await until(async () => (await statusOf(d.http)).connected, { timeoutMs: 10_000, what: 'the daemon connected' });

  const cases: [string, string, unknown][] = [
    ['v/number', '42', 42],
    ['v/object', '{"a":1}', { a: 1 }],
    ['v/string', 'hello', 'hello'],
    ['v/array', '[1.5,"a",null]', [1.5, 'a', null]],
    ['v/true', 'true', true],
    ['v/quoted', '"42"', '42'],
    ['v/not-json', 'Hello {Mars}', 'Hello {Mars}'],
  ];
  const puts = await Promise.all(cases.map(([k, text]) => cliJson<{ k: string; s: number; decision: string; duplicate: boolean }>(['put', k, text, '--http', d.http, '--json'])));
  for (const [i, [k, text, value]] of cases.entries()) {
    const p = puts[i];
    assert.deepEqual(p && { k: p.k, decision: p.decision, duplicate: p.duplicate }, { k, decision: 'apply', duplicate: false }, `put ${k} ${text}`);
    assert.equal(typeof p?.s, 'number');
    assert.deepEqual(await getKey(d.http, k), { k, v: value, s: p?.s, src: 'cli' }, `put ${k} ${text} stores ${JSON.stringify(value)}`);
  }
  // `get --json` prints the same, typed.
  for (const i of [0, 1, 2]) {
    const [k, , value] = cases[i] as [string, string, unknown];
    assert.deepEqual(await cliJson<KeyView>(['get', k, '--http', d.http, '--json']), { k, v: value, s: puts[i]?.s, src: 'cli' });
  }

  // An explicit state; the same put again is an exact duplicate.
  const s = Date.now() - 5000;
  const first = await cliJson<{ s: number; decision: string; duplicate: boolean }>(['put', 'v/explicit', '7', '--state', String(s), '--http', d.http, '--json']);
  assert.deepEqual(first, { k: 'v/explicit', s, decision: 'apply', duplicate: false });
  const again = await cliJson<{ s: number; decision: string; duplicate: boolean }>(['put', 'v/explicit', '7', '--state', String(s), '--http', d.http, '--json']);
  assert.deepEqual(again, { k: 'v/explicit', s, decision: 'same', duplicate: true });

  // A missing key: non-zero exit, one line on stderr naming the key.
  const missing = await runCli(['get', 'no/such/key', '--http', d.http, '--json']);
  assert.notEqual(missing.code, 0);
  assert.equal(missing.stdout, '');
  assert.equal(missing.stderr.trim().split('\n').length, 1, missing.stderr);
  assert.match(missing.stderr, /no\/such\/key/);

  // --json output of the other commands parses.
  const history = await cliJson<HistoryRow[]>(['history', 'v/explicit', '--http', d.http, '--json']);
  assert.deepEqual(history.map((r) => [r.v, r.s, r.src, r.outcome]), [[7, s, 'cli', 'applied']]);
  assert.deepEqual(await cliJson(['deferred', '--http', d.http, '--json']), []);
  const status = await cliJson<StatusView>(['status', '--http', d.http, '--json']);
  assert.equal(status.id, 'cli');
  assert.equal(status.connected, true);
  assert.equal(status.live, cases.length + 1);
  assert.deepEqual(status.outbox, { messages: 0, updates: 0, inflight: 0 });

  // Without --json: text for people.
  const [human, humanStatus] = await Promise.all([runCli(['get', 'v/object', '--http', d.http]), runCli(['status', '--http', d.http])]);
  assert.equal(human.code, 0, human.stderr);
  assert.match(human.stdout, /\{"a":1\}/);
  assert.equal(humanStatus.code, 0, humanStatus.stderr);
  assert.match(humanStatus.stdout, /cli/);

  await h.stopAll();
});

test('CLI: daemon and broker exit 0 within 5 s of SIGTERM (connected, offline, with clients)', { timeout: 50_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await h.broker();
  const online = await h.daemon({ id: 'online', broker: broker.url });
  const offline = await h.daemon({ id: 'offline', broker: `mqtt://127.0.0.1:${await closedPort()}` });
  await until(async () => (await statusOf(online.http)).connected, { timeoutMs: 10_000, what: 'the daemon connected' });
  assert.equal((await statusOf(offline.http)).connected, false);

  const tookOnline = await online.proc.stop(5000);
  const tookOffline = await offline.proc.stop(5000);
  t.diagnostic(`daemon stop: connected ${tookOnline} ms, offline ${tookOffline} ms`);

  // A broker with clients still connected (a daemon and a plain MQTT client) stops promptly too.
  const busy = await h.daemon({ id: 'busy', broker: broker.url });
  await until(async () => (await statusOf(busy.http)).connected, { timeoutMs: 10_000, what: 'the daemon connected' });
  await h.watch(broker.url, ['hamsync/#'], 'idle');
  const tookBroker = await broker.proc.stop(5000);
  t.diagnostic(`broker stop with 2 clients connected: ${tookBroker} ms`);
  await until(async () => !(await statusOf(busy.http)).connected, { timeoutMs: 5000, what: 'the daemon to notice the broker left' });
  await busy.proc.stop(5000);
});
