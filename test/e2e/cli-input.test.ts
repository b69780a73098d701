/**
 * Bad or ambiguous input at the CLI and the HTTP API becomes a one-line coded error (issue 14
 * item 7): a value JSON cannot carry (1e400), clock offsets without a unit or out of range,
 * ISO 8601 times for every time option and query parameter, and broken JSON taken as a string
 * with a note (or refused / forced with --json-value / --string).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, closedPort, cliJson, Harness, historyOf, runCli, type CliResult, type HistoryRow, type KeyView } from '../helpers/procs.js';

/** stderr without JSON log lines. */
function human(r: CliResult): string[] {
  return r.stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('{"level"'));
}

function oneLineError(r: CliResult, what: string): string {
  assert.notEqual(r.code, 0, `${what}: must exit non-zero; stderr: ${r.stderr}`);
  const lines = human(r);
  assert.equal(lines.length, 1, `${what}: one line on stderr, got ${JSON.stringify(lines)}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack trace`);
  return lines[0] as string;
}

test('CLI and HTTP: values, states and times', { timeout: 60_000 }, async (t) => {
  const h = new Harness(t);
  const d = await h.daemon({ id: 'inp', broker: `mqtt://127.0.0.1:${await closedPort()}` });
  const http = ['--http', d.http];

  // 1e400 is Infinity: refused by the CLI (it used to be sent, and stored, as null) and by HTTP.
  const inf = oneLineError(await runCli(['put', 'j/b', '1e400', ...http]), 'put j/b 1e400');
  assert.match(inf, /HAMSYNC_ERR_VALUE: .*"1e400"/);
  const viaHttp = await api(d.http, 'POST', '/v1/put', { k: 'j/b', v: 1 }); // a valid put first: the raw body below must not be mistaken for it
  assert.equal(viaHttp.status, 200);
  const raw = await fetch(`http://${d.http}/v1/put`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"k":"j/c","v":1e400}' });
  const rawBody = (await raw.json()) as { error?: { code?: string } };
  assert.deepEqual([raw.status, rawBody.error?.code], [400, 'HAMSYNC_ERR_VALUE']);
  assert.deepEqual((await historyOf(d.http, 'j/b')).map((r) => r.v), [1], 'no null stored for j/b');
  assert.deepEqual(await historyOf(d.http, 'j/c'), []);

  // Broken JSON: kept as a string, with a note on stderr; --json-value refuses, --string forces.
  const typo = await runCli(['put', 'j/typo', '{"a":', ...http, '--json']);
  assert.equal(typo.code, 0, typo.stderr);
  assert.match(human(typo).join('\n'), /not valid JSON.*stored as the string/);
  assert.equal((await cliJson<KeyView>(['get', 'j/typo', ...http, '--json'])).v, '{"a":');
  assert.match(oneLineError(await runCli(['put', 'j/strict', '{"a":', '--json-value', ...http]), '--json-value'), /HAMSYNC_ERR_VALUE/);
  assert.equal((await api(d.http, 'GET', '/v1/keys/j%2Fstrict')).status, 404);
  const forced = await runCli(['put', 'j/str', '0042', '--string', ...http]);
  assert.equal(forced.code, 0, forced.stderr);
  assert.deepEqual(human(forced).filter((l) => l.startsWith('note')), []);
  assert.equal((await cliJson<KeyView>(['get', 'j/str', ...http, '--json'])).v, '0042');

  // One time parser: put --state <ISO>, history --from/--to <ISO>, the HTTP query too.
  const at = Date.UTC(2026, 0, 1, 12, 0, 0);
  const put = await cliJson<{ s: number }>(['put', 'j/when', '7', '--state', '2026-01-01T12:00:00Z', ...http, '--json']);
  assert.equal(put.s, at);
  const inRange = await cliJson<HistoryRow[]>(['history', 'j/when', '--from', '2026-01-01T11:59Z', '--to', '2026-01-01T12:00:00.000Z', ...http, '--json']);
  assert.deepEqual(inRange.map((r) => r.s), [at]);
  assert.deepEqual(await cliJson<HistoryRow[]>(['history', 'j/when', '--from', '2026-01-01T12:00:01Z', ...http, '--json']), []);
  const q = await api(d.http, 'GET', `/v1/history/j%2Fwhen?from=${encodeURIComponent('2026-01-01T11:00:00Z')}&to=${at}`);
  assert.deepEqual((q.body as { rows: HistoryRow[] }).rows.map((r) => r.s), [at]);
  const badQ = await api(d.http, 'GET', '/v1/history/j%2Fwhen?from=yesterday');
  assert.equal(badQ.status, 400);
  assert.match(oneLineError(await runCli(['history', 'j/when', '--from', 'yesterday', ...http]), 'history --from yesterday'), /HAMSYNC_ERR_CONFIG: from must be an ISO 8601 time .*"yesterday"/);
  assert.match(oneLineError(await runCli(['put', 'j/when', '1', '--state', 'noon', ...http]), 'put --state noon'), /HAMSYNC_ERR_CONFIG: state must be/);

  // A missing key names the code.
  assert.match(oneLineError(await runCli(['get', 'j/none', ...http]), 'get j/none'), /HAMSYNC_ERR_NOT_FOUND: .*j\/none/);
  await h.stopAll();
});

test('CLI: --clock-offset needs a unit and stays within a year', { timeout: 60_000 }, async (t) => {
  const h = new Harness(t);
  const broker = `mqtt://127.0.0.1:${await closedPort()}`;
  for (const offset of ['100000000000d', '5', '400d']) {
    const r = await runCli(['daemon', '--id', 'off', '--broker', broker, '--data-dir', h.tempDir('off'), '--http', '127.0.0.1:0', `--clock-offset=${offset}`]);
    const line = oneLineError(r, `--clock-offset ${offset}`);
    assert.match(line, /HAMSYNC_ERR_CONFIG: clockOffset must be/, line);
    assert.ok(line.includes(JSON.stringify(offset)), `quotes ${offset}: ${line}`);
  }
  const imp = await runCli(['import', '/nonexistent.ndjson', '--data-dir', h.tempDir('imp'), '--clock-offset', '5']);
  assert.match(oneLineError(imp, 'import --clock-offset 5'), /HAMSYNC_ERR_CONFIG: clock-offset must be a duration with a unit/);
});
