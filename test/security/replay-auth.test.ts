import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { startBroker } from '../../broker/server.js';
import { hashPassword, saveUsers } from '../../src/auth/users.js';
import { ManualClock, Replica } from '../../src/index.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function replay(args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'replay', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const hard = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('exit', (code) => {
      clearTimeout(hard);
      resolve({ code, err });
    });
  });
}

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
  const ok = await replay(['--data-dir', data, '--to', url, '--speed', 'max', '--session', 's1', '--username', 'ops', '--password', 's3cret-pass', '--quiet']);
  assert.equal(ok.code, 0, ok.err);
  await until(() => got.length === 3, { what: 'three replayed rows', timeoutMs: 5000 });
  assert.deepEqual(got, ['hamsync/default/replay/s1/sat/1', 'hamsync/default/replay/s1/sat/2', 'hamsync/default/replay/s1/sat/3']);
  const bad = await replay(['--data-dir', data, '--to', url, '--session', 's2', '--username', 'ops', '--password', 'wrong', '--quiet']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /^hamsync: HAMSYNC_ERR_NETWORK: cannot reach the broker at .*(Bad username or password|Not authorized)/i);
});
