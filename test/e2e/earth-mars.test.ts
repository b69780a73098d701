/**
 * Earth and Mars write the same key at the same state: HAM's tie-break (lexically greater
 * canonical JSON wins) must make every replica — both daemons and the hub — end on
 * "Hello Mars", while "Hello Earth" stays in each daemon's history as the tie's loser.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliJson, Harness, hubSnapshot, runCli, type HistoryRow, type KeyView } from '../helpers/procs.js';
import { sleep, until } from '../helpers/wait.js';

const KEY = 'mission/hello';
const TOPIC = `hamsync/default/state/${KEY}`;

test('earth and mars write the same key at the same state; every replica ends on "Hello Mars"', { timeout: 55_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await h.broker();
  const [earth, mars] = await Promise.all([h.daemon({ id: 'earth', broker: broker.url }), h.daemon({ id: 'mars', broker: broker.url })]);
  const watcher = await h.watch(broker.url, [TOPIC], 'state');

  // Both links up before writing, so the puts race through the broker rather than the outbox.
  for (const d of [earth, mars]) {
    await until(async () => (await cliJson<{ connected: boolean }>(['status', '--http', d.http, '--json'])).connected, { timeoutMs: 10_000, what: `${d.id} connected` });
  }

  const state = Date.now() - 1000; // in the past for every replica: nothing is deferred
  const [e, m] = await Promise.all([
    cliJson<{ k: string; s: number; decision: string }>(['put', KEY, 'Hello Earth', '--state', String(state), '--http', earth.http, '--json']),
    cliJson<{ k: string; s: number; decision: string }>(['put', KEY, 'Hello Mars', '--state', String(state), '--http', mars.http, '--json']),
  ]);
  // Mars's value wins the tie wherever it lands; Earth's is applied only if it got home first.
  assert.deepEqual([m.k, m.s, m.decision], [KEY, state, 'apply']);
  assert.deepEqual([e.k, e.s], [KEY, state]);
  assert.ok(['apply', 'historical'].includes(e.decision), `earth's decision: ${e.decision}`);

  for (const d of [earth, mars]) {
    const got = await until(
      async () => {
        const v = await cliJson<KeyView>(['get', KEY, '--http', d.http, '--json']);
        return v.v === 'Hello Mars' ? v : undefined;
      },
      { timeoutMs: 10_000, what: `${d.id} to hold "Hello Mars"` },
    );
    assert.deepEqual(got, { k: KEY, v: 'Hello Mars', s: state, src: 'mars' });
  }

  // The hub: the retained state topic ends on Mars (and Mars is the last word, not overwritten later).
  await until(() => watcher.lastValue(TOPIC) === 'Hello Mars', { timeoutMs: 10_000, what: 'the state topic to show "Hello Mars"' });
  await sleep(300);
  assert.equal(watcher.lastValue(TOPIC), 'Hello Mars', `state topic after settling: ${watcher.on(TOPIC).map((x) => x.text).join(' | ')}`);
  assert.deepEqual(watcher.last(TOPIC)?.json, { v: 'Hello Mars', s: state, src: 'mars' });
  for (const msg of watcher.on(TOPIC)) assert.ok(['Hello Earth', 'Hello Mars'].includes((msg.json as { v: string }).v), msg.text);

  // A subscriber arriving now gets the retained "Hello Mars".
  const late = await h.watch(broker.url, [TOPIC], 'late');
  await until(() => late.last(TOPIC), { timeoutMs: 5000, what: 'the retained state message' });
  assert.equal(late.last(TOPIC)?.retain, true);
  assert.deepEqual(late.last(TOPIC)?.json, { v: 'Hello Mars', s: state, src: 'mars' });

  // The hub's own replica, read through a catch-up request.
  const hub = (await hubSnapshot(broker.url)).filter((r) => r.k === KEY);
  assert.deepEqual(hub, [{ k: KEY, v: 'Hello Mars', s: state, src: 'mars' }]);

  // Both daemons keep both writes in history: Mars applied, Earth lost the tie (once each).
  for (const d of [earth, mars]) {
    const rows = await until(
      async () => {
        const r = await cliJson<HistoryRow[]>(['history', KEY, '--http', d.http, '--json']);
        return r.length >= 2 ? r : undefined;
      },
      { timeoutMs: 10_000, what: `${d.id}'s history to hold both writes` },
    );
    const view = rows.map((r) => ({ v: r.v, s: r.s, src: r.src })).sort((a, b) => (a.src < b.src ? -1 : 1));
    assert.deepEqual(view, [
      { v: 'Hello Earth', s: state, src: 'earth' },
      { v: 'Hello Mars', s: state, src: 'mars' },
    ], `${d.id} history: ${JSON.stringify(rows)}`);
    // Earth's row was applied if it reached this replica before Mars's, else it lost the tie;
    // Mars's row is always applied (nothing at that state beats it).
    const earthRow = rows.find((r) => r.src === 'earth');
    assert.ok(earthRow && ['applied', 'tie-lost'].includes(earthRow.outcome), JSON.stringify(earthRow));
    assert.equal(rows.find((r) => r.src === 'mars')?.outcome, 'applied');
  }

  await h.stopAll();

  // The hub's history too (read from its data dir with `hamsync replay`, now that it has stopped).
  const hubRows = (await runCli(['replay', '--data-dir', broker.dataDir, '--key', KEY, '--quiet'])).stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { v: string; s: number; src: string; outcome: string });
  assert.deepEqual(hubRows.map((r) => [r.src, r.v, r.s]).sort(), [['earth', 'Hello Earth', state], ['mars', 'Hello Mars', state]]);
  assert.ok(['applied', 'tie-lost'].includes(hubRows.find((r) => r.src === 'earth')?.outcome ?? ''));
  assert.equal(hubRows.find((r) => r.src === 'mars')?.outcome, 'applied');
});
