/**
 * Upgrading from hamsync 0.1: data dirs written by 0.1 (store format 1, test/fixtures/v01-*)
 * open under v2, migrate in place once (one log line), keep their data, and sync. A v1 catch-up
 * request at the v2 hub is answered with HAMSYNC_ERR_PROTOCOL.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getKey, Harness, putApi, uniqueId } from '../helpers/procs.js';
import { brokerV2, caughtUp, hubView, inHubMode } from '../helpers/v2.js';
import { until } from '../helpers/wait.js';

/** The fixtures in the source tree (this file runs from dist/test/sync-v2/). */
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

interface LogLine {
  msg?: string;
  [k: string]: unknown;
}

function logLines(stderr: string): LogLine[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

/** Log lines about a migration of the store format. */
function migrationLines(stderr: string): LogLine[] {
  return logLines(stderr).filter((l) => /migrat/i.test(JSON.stringify(l)));
}

test('0.1 data dirs migrate once, keep their data, and sync; a v1 catch-up gets HAMSYNC_ERR_PROTOCOL', { timeout: 90_000 }, async (t) => {
  const h = new Harness(t);
  const hubDir = h.tempDir('v01-hub');
  const devDir = h.tempDir('v01-daemon');
  fs.cpSync(path.join(FIXTURES, 'v01-hub'), hubDir, { recursive: true });
  fs.cpSync(path.join(FIXTURES, 'v01-daemon'), devDir, { recursive: true });

  let broker = await brokerV2(h, { dataDir: hubDir });
  const port = broker.port;
  let pi = await h.daemon({ id: 'pi-1', broker: broker.url, dataDir: devDir });
  // Both have opened their data dirs once they listen (the broker) and serve status (the daemon).
  await caughtUp(pi.http, 'pi-1 synced with the migrated hub', 20_000);
  const firstLogs = { broker: broker.proc.stderr, daemon: pi.proc.stderr };

  // The 0.1 data, on both.
  const temp = await getKey(pi.http, 'pi-1/temp');
  const name = await getKey(pi.http, 'pi-1/name');
  assert.equal(temp?.v, 21.5);
  assert.equal(name?.v, 'alpha');
  const hub = await hubView(broker.url);
  assert.deepEqual(hub.live.get('pi-1/temp'), temp);
  assert.deepEqual(hub.live.get('pi-1/name'), name);

  // A new put syncs: to the hub and to another (fresh) daemon.
  const [r] = await putApi(pi.http, [{ k: 'pi-1/after-upgrade', v: 'v2' }]);
  const obs = await h.daemon({ id: 'obs', broker: broker.url });
  await until(async () => (await getKey(obs.http, 'pi-1/after-upgrade'))?.v === 'v2', { timeoutMs: 10_000, what: 'the new put at another daemon' });
  assert.equal((await getKey(obs.http, 'pi-1/temp'))?.v, 21.5, 'the migrated data reaches a new daemon');
  await until(async () => (await hubView(broker.url)).live.get('pi-1/after-upgrade')?.s === r?.s, { timeoutMs: 10_000, what: 'the new put at the hub' });

  // v1 catch-up at the v2 hub: HAMSYNC_ERR_PROTOCOL on sync/res.
  const dev = uniqueId('v1dev');
  const w = await h.watch(broker.url, [`hamsync/default/sync/res/${dev}`], 'v1');
  await w.client.publishAsync(`hamsync/default/sync/req/${dev}`, JSON.stringify({ pv: 1, id: 'x', f: ['#'] }), { qos: 1 });
  const answer = await until(() => w.last(`hamsync/default/sync/res/${dev}`), { timeoutMs: 5000, what: 'an answer to the v1 catch-up request' });
  const err = (answer.json as { id?: string; err?: { code?: string; message?: string } } | undefined);
  assert.equal(err?.id, 'x', answer.text);
  assert.equal(err?.err?.code, 'HAMSYNC_ERR_PROTOCOL', answer.text);
  t.diagnostic(`v1 request answered: ${answer.text}`);

  // A second start does not migrate again, and the data is still there.
  await h.stopAll();
  broker = await brokerV2(h, { dataDir: hubDir, port, name: 'broker#2' });
  pi = await h.daemon({ ...pi.options, name: 'pi-1#2' });
  await inHubMode(pi.http, 'pi-1 following the hub after its second start');
  for (const p of [broker.proc, pi.proc]) assert.deepEqual(migrationLines(p.stderr), [], `${p.name} migrated again`);
  assert.equal((await getKey(pi.http, 'pi-1/after-upgrade'))?.v, 'v2');
  assert.equal((await hubView(broker.url)).live.get('pi-1/name')?.v, 'alpha');
  await h.stopAll();

  // One line each about the migration from format 1, on the first start (checked last, so that
  // a missing line does not hide the rest).
  for (const [who, stderr] of Object.entries(firstLogs)) {
    const lines = migrationLines(stderr);
    t.diagnostic(`${who}: ${JSON.stringify(lines)}`);
    assert.equal(lines.length, 1, `${who}: one migration log line on the first start, got ${JSON.stringify(lines)}`);
    assert.match(String(lines[0]?.msg), /\b1\b/, `${who}: the line names format 1: ${JSON.stringify(lines[0])}`);
  }
});
