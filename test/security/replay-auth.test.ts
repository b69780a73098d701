import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startBroker } from '../../broker/server.js';
import { hashPassword, saveUsers } from '../../src/auth/users.js';
import { ManualClock, Replica } from '../../src/index.js';
import { runCli } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

test('replay --to mqtt:// logs in to a broker with --users: an admin may publish replay topics, a wrong password may not', async (t) => {
  const dir = tempDir(t);
  const data = join(dir, 'data');
  const r = await Replica.open({ dataDir: data, clock: new ManualClock(10_000) });
  await r.receive([1, 2, 3].map((i) => ({ key: `sat/${i}`, value: i, state: i * 1000, source: 'sat' }))).durable;
  await r.close();
  const usersFile = join(dir, 'users.json');
  saveUsers(usersFile, { version: 1, users: { ops: { role: 'admin', ...(await hashPassword('s3cret-pass')) }, watcher: { role: 'observer', ...(await hashPassword('watch-pass')) } } });
  const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), auth: { usersFile } });
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const sub = await mqtt.connectAsync(url, { clientId: 'hamsync-watcher.sub', username: 'watcher', password: 'watch-pass' });
  t.after(async () => {
    await sub.endAsync();
    await broker.close();
  });
  const got: string[] = [];
  sub.on('message', (topic) => got.push(topic));
  await sub.subscribeAsync('hamsync/default/replay/#', { qos: 1 });
  const ok = await runCli(['replay', '--data-dir', data, '--to', url, '--speed', 'max', '--session', 's1', '--username', 'ops', '--password', 's3cret-pass', '--quiet']);
  assert.equal(ok.code, 0, ok.stderr);
  await until(() => got.length === 3, { what: 'three replayed rows', timeoutMs: 5000 });
  assert.deepEqual(got, ['hamsync/default/replay/s1/sat/1', 'hamsync/default/replay/s1/sat/2', 'hamsync/default/replay/s1/sat/3']);
  const bad = await runCli(['replay', '--data-dir', data, '--to', url, '--session', 's2', '--username', 'ops', '--password', 'wrong', '--quiet']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /^hamsync: HAMSYNC_ERR_NETWORK: cannot reach the broker at .*(Bad username or password|Not authorized)/i);
});
