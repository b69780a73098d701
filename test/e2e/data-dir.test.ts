/**
 * One data directory, one owner, one process (issue 14, items 1 and 2), with real processes:
 * - a data dir whose outbox holds earth's puts is refused to `daemon --id venus` (nothing sent,
 *   the outbox keeps both, earth sends them later);
 * - a second daemon, a second broker, or an import on a running process's data dir is refused
 *   with the holder's pid; export and replay still work beside it;
 * - a daemon killed with SIGKILL leaves a stale lock that the next start takes over.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { closedPort, Harness, hubSnapshot, putApi, runCli, statusOf } from '../helpers/procs.js';
import { until } from '../helpers/wait.js';

test('item 1: 2 puts queued on earth, then daemon --id venus on its data dir is refused; nothing is sent and earth sends both later', async (t) => {
  const h = new Harness(t);
  const port = await closedPort();
  const broker = `mqtt://127.0.0.1:${port}`;
  const dir = h.tempDir('earth');
  const earth = await h.daemon({ id: 'earth', broker, dataDir: dir });
  await putApi(earth.http, [{ k: 'earth/a', v: 1 }]);
  await putApi(earth.http, [{ k: 'earth/b', v: 2 }]);
  assert.equal((await statusOf(earth.http)).outbox.updates, 2, 'queued while the broker is down');
  await earth.proc.stop();

  // The broker is up now: whatever venus sent would reach it.
  const hub = await h.broker({ port });
  const watch = await h.watch(hub.url, ['hamsync/+/put/#']);
  const venus = await runCli(['daemon', '--id', 'venus', '--broker', broker, '--data-dir', dir, '--http', '127.0.0.1:0', '--log-level', 'silent']);
  assert.equal(venus.code, 1, `venus must be refused; stdout ${venus.stdout}; stderr ${venus.stderr}`);
  assert.match(venus.stderr, /^hamsync: HAMSYNC_ERR_IDENTITY: data directory .* belongs to daemon "earth" in namespace "default", not to daemon "venus"/m);
  assert.equal(venus.stdout, '', 'it never started (no listening line)');
  // venus has exited: it can send nothing any more.
  assert.deepEqual(watch.messages, [], 'nothing was sent');
  assert.deepEqual(await hubSnapshot(hub.url), [], 'the hub has nothing');

  const again = await h.daemon({ id: 'earth', broker, dataDir: dir });
  const hubRows = await untilRows(hub.url, 2);
  assert.deepEqual(hubRows.map((r) => [r.k, r.src]).sort(), [['earth/a', 'earth'], ['earth/b', 'earth']], 'the outbox kept both; earth sent them');
  assert.equal((await statusOf(again.http)).outbox.updates, 0);
  await h.stopAll();
});

async function untilRows(url: string, n: number): Promise<{ k: string; src: string }[]> {
  return until(async () => {
    const rows = await hubSnapshot(url);
    return rows.length >= n ? rows : undefined;
  }, { what: `${n} rows at the hub` });
}

test('item 2: a second daemon, a second broker and an import are refused with the holder\'s pid; export and replay work beside it', async (t) => {
  const h = new Harness(t);
  const hub = await h.broker();
  const first = await h.daemon({ id: 'earth', broker: hub.url });
  await putApi(first.http, [{ k: 'earth/x', v: 'x' }]);
  const pid = first.proc.child.pid as number;

  const second = await runCli(['daemon', '--id', 'earth', '--broker', hub.url, '--data-dir', first.dataDir, '--http', '127.0.0.1:0', '--log-level', 'silent']);
  assert.equal(second.code, 1, second.stderr);
  assert.match(second.stderr, new RegExp(`HAMSYNC_ERR_LOCKED: data directory .* is in use by pid ${pid} \\(daemon, since [^)]+\\); stop it first`));
  assert.equal(second.stdout, '');

  const hub2 = await runCli(['broker', '--port', '0', '--host', '127.0.0.1', '--data-dir', hub.dataDir, '--log-level', 'silent']);
  assert.equal(hub2.code, 1, hub2.stderr);
  assert.match(hub2.stderr, new RegExp(`HAMSYNC_ERR_LOCKED: .* in use by pid ${hub.proc.child.pid as number} \\(broker,`));

  const file = path.join(h.tempDir('export'), 'earth.ndjson');
  const exported = await runCli(['export', '--data-dir', first.dataDir, '--out', file]);
  assert.equal(exported.code, 0, `export beside a running daemon: ${exported.stderr}`);
  assert.match(exported.stdout, /exported 1 live, 1 history/);
  const replay = await runCli(['replay', '--data-dir', first.dataDir, '--quiet']);
  assert.equal(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, /"k":"earth\/x"/);

  const imported = await runCli(['import', file, '--data-dir', first.dataDir]);
  assert.equal(imported.code, 1, imported.stderr);
  assert.match(imported.stderr, new RegExp(`HAMSYNC_ERR_LOCKED: .* in use by pid ${pid} \\(daemon,`));

  // The running daemon was not disturbed.
  assert.equal((await statusOf(first.http)).connected, true);
  await h.stopAll();
  assert.equal(fs.existsSync(path.join(first.dataDir, 'hamsync.lock')), false, 'a clean stop releases the lock');
  const after = await runCli(['import', file, '--data-dir', first.dataDir]);
  assert.equal(after.code, 0, `import once the daemon stopped: ${after.stderr}`);
});

test('item 2: kill -9 leaves a stale lock; the next start takes it over', async (t) => {
  const h = new Harness(t);
  const hub = await h.broker();
  const first = await h.daemon({ id: 'earth', broker: hub.url });
  const lockFile = path.join(first.dataDir, 'hamsync.lock');
  const stale = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as { pid: number };
  assert.equal(stale.pid, first.proc.child.pid);
  await first.proc.kill();
  assert.equal(first.proc.exit?.signal, 'SIGKILL');
  assert.ok(fs.existsSync(lockFile), 'SIGKILL left the lock file');
  const next = await h.daemon({ id: 'earth', broker: hub.url, dataDir: first.dataDir, name: 'earth-2' });
  const taken = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as { pid: number };
  assert.equal(taken.pid, next.proc.child.pid, 'the new daemon holds it');
  await putApi(next.http, [{ k: 'earth/y', v: 1 }]);
  await h.stopAll();
});
