/**
 * The rate limit with real processes: a daemon whose outbox holds more than the broker lets one
 * device put at once. The broker refuses the excess (no ack, disconnect), the daemon reconnects and
 * resends from its outbox, and in the end every update is at the hub: slowed down, nothing lost.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { api, Harness, hubSnapshot, putApi, statusOf } from '../helpers/procs.js';
import { until } from '../helpers/wait.js';

test('a rate-limited daemon is slowed down, not robbed: every update reaches the hub', { timeout: 90_000 }, async (t) => {
  const h = new Harness(t);
  const hubDir = h.tempDir('hub');
  const broker = h.spawn('broker', ['broker', '--port', '0', '--host', '127.0.0.1', '--data-dir', hubDir, '--http', '127.0.0.1:0', '--rate-limit', '400', '--rate-burst', '1000', '--log-level', 'warn']);
  const { port, http } = await broker.listening();
  const url = `mqtt://127.0.0.1:${String(port)}`;
  const admin = `127.0.0.1:${String(http)}`;
  const d = await h.daemon({ id: 'burst', broker: url });
  // 10 local puts of 400 updates: 4,000 in a moment, 4 times the burst.
  const N = 10;
  for (let i = 0; i < N; i++) {
    await putApi(d.http, Array.from({ length: 400 }, (_, j) => ({ k: `burst/${i}/${j}`, v: j })));
  }
  const counters = async (): Promise<Record<string, number>> => ((await api(admin, 'GET', '/v1/status')).body as { counters: Record<string, number> }).counters;
  await until(async () => ((await counters())['rejected.HAMSYNC_ERR_RATE'] ?? 0) >= 1, { timeoutMs: 20_000, what: 'the broker refused something for the rate' });
  await until(async () => (await statusOf(d.http)).outbox.updates === 0, { timeoutMs: 60_000, intervalMs: 250, what: 'the daemon\'s outbox drained' });
  const hub = await hubSnapshot(url);
  const stored = hub.filter((e) => e.k.startsWith('burst/'));
  assert.equal(stored.length, N * 400, 'every update is at the hub');
  const c = await counters();
  console.log(`# rate-limit refusals: ${c['rejected.HAMSYNC_ERR_RATE']}, updates accepted: ${c['updates.accepted']}`);
  assert.ok((c['rejected.HAMSYNC_ERR_RATE'] ?? 0) >= 1);
  await h.stopAll();
});
