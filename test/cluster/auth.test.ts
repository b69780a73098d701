/**
 * Cluster nodes with a users file (issue 12): a node takes its peer snapshots logged in with
 * --cluster-user/--cluster-password-file as a user of role `node` (sync v2 with filter `#`, nothing
 * else). With the right password the snapshot runs and the nodes converge; with a wrong one it fails
 * visibly (counted, logged, in the cluster status, refused and counted at the peer) and the node
 * keeps serving.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import mqtt from 'mqtt';
import type { RunningBroker } from '../../broker/server.js';
import { hashPassword, loadUsers, saveUsers, type UsersFile } from '../../src/auth/users.js';
import { createLogger } from '../../src/log.js';
import { PrivateRedis } from '../helpers/redis.js';
import { tempDir } from '../helpers/tmp.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';
import { converged, node, put } from './kit.js';

const skip = skipUnlessTools('redis-server');
const NODE_USER = 'hub-node';
const NODE_PASSWORD = 'node-s3cret';

/** A users file with the node user and two device users `a`, `b` (password `pw-<id>`). */
async function usersFile(t: TestContext): Promise<string> {
  const file = join(tempDir(t), 'users.json');
  const users: UsersFile = { version: 1, users: { [NODE_USER]: { role: 'node', ...(await hashPassword(NODE_PASSWORD)) } } };
  for (const id of ['a', 'b']) users.users[id] = { role: 'device', ...(await hashPassword(`pw-${id}`)), ns: ['default'] };
  saveUsers(file, users);
  return file;
}

/** `n` puts of one key each, logged in as device `device`, keys `<prefix><i>`. */
async function puts(b: RunningBroker, device: string, prefix: string, n: number, base: number): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.port}`, { clientId: `hamsync-${device}`, username: device, password: `pw-${device}`, reconnectPeriod: 0 });
  try {
    for (let i = 0; i < n; i++) await put(c, device, [[`${prefix}${i}`, i]], base + i);
  } finally {
    await c.endAsync(true);
  }
}

/** Empties Redis under two converged nodes (a generation change): both detect the gap and take peer snapshots. */
async function emptyRedis(redis: PrivateRedis, n1: RunningBroker, n2: RunningBroker): Promise<void> {
  await redis.stop();
  await redis.restart({ empty: true });
  await until(() => n1.hub.counters.get('cluster.gaps.generation') > 0 && n2.hub.counters.get('cluster.gaps.generation') > 0, { timeoutMs: 20_000, what: 'both nodes saw the generation change' });
}

test('nodes sharing a users file take peer snapshots logged in as a node user, and converge', { skip, timeout: 90_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const auth = { usersFile: await usersFile(t) };
  const login = { username: NODE_USER, password: NODE_PASSWORD };
  const n1 = await node(t, { nodeId: 'n1', url: redis.url, extra: { auth }, cluster: login });
  const n2 = await node(t, { nodeId: 'n2', url: redis.url, extra: { auth }, cluster: login });
  const base = Date.now() - 60_000;
  await puts(n1, 'a', 'a/', 5, base);
  await puts(n2, 'b', 'b/', 5, base + 100);
  await converged([n1, n2], 10);
  await emptyRedis(redis, n1, n2);
  await until(() => n1.hub.counters.get('cluster.snapshots') > 0 && n2.hub.counters.get('cluster.snapshots') > 0, { timeoutMs: 30_000, what: 'peer snapshots taken' });
  // Each peer served a feed to the node user (anonymous clients are refused: the login was used).
  assert.ok(n1.hub.counters.get('sync.snapshots') > 0 && n2.hub.counters.get('sync.snapshots') > 0, 'each node served a snapshot feed');
  for (const b of [n1, n2]) {
    assert.equal(b.hub.counters.get('cluster.snapshots.failed'), 0);
    assert.equal(b.hub.counters.get('auth.failed'), 0);
    assert.equal(b.hub.counters.get('acl.denied.publish') + b.hub.counters.get('acl.denied.subscribe'), 0, 'the node role allows everything a snapshot needs');
  }
  await puts(n2, 'b', 'c/', 3, base + 200);
  await converged([n1, n2], 13);
});

test('a node with a wrong cluster password: its peer snapshot fails visibly and it keeps serving', { skip, timeout: 90_000 }, async (t) => {
  const redis = await PrivateRedis.start(t);
  const auth = { usersFile: await usersFile(t) };
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('warn', { node: 'n1' }, (line) => void lines.push(JSON.parse(line) as Record<string, unknown>));
  const n1 = await node(t, { nodeId: 'n1', url: redis.url, extra: { auth, log }, cluster: { username: NODE_USER, password: 'wrong-password' } });
  const n2 = await node(t, { nodeId: 'n2', url: redis.url, extra: { auth }, cluster: { username: NODE_USER, password: NODE_PASSWORD } });
  const base = Date.now() - 60_000;
  await puts(n1, 'a', 'a/', 3, base);
  await converged([n1, n2], 3);
  await emptyRedis(redis, n1, n2);
  await until(() => n1.hub.counters.get('cluster.snapshots.failed') > 0, { timeoutMs: 30_000, what: 'n1\'s peer snapshot failed' });
  assert.equal(n1.hub.counters.get('cluster.snapshots'), 0, 'no snapshot taken with a wrong password');
  assert.equal(n1.cluster?.status().snapshots.failed, n1.hub.counters.get('cluster.snapshots.failed'), 'the cluster status shows the failure');
  const failed = lines.find((l) => l.msg === 'peer snapshot failed; will retry');
  assert.ok(failed, `logged: ${JSON.stringify(lines)}`);
  assert.equal(failed.peer, 'n2');
  assert.match(String(failed.err), /not authorized|bad user ?name or password/i);
  // The peer refused the login and counted it.
  await until(() => n2.hub.counters.get('auth.failed') > 0, { what: 'n2 counted the failed login' });
  // n2's own snapshot (right password) works; n1 is still up and serving its clients.
  await until(() => n2.hub.counters.get('cluster.snapshots') > 0, { timeoutMs: 30_000, what: 'n2\'s peer snapshot taken' });
  await puts(n1, 'a', 'd/', 2, base + 100);
  assert.equal(n1.replica.get('d/1')?.value, 1);
  await converged([n1, n2], 5);
  // The failed snapshot is owed: n1 says degraded (not down) and names the peer until a retry works.
  assert.deepEqual(n1.cluster?.status().snapshots.owed, ['n2']);
  assert.equal(n1.cluster?.check().ok, false);
  assert.match(n1.cluster?.check().reason ?? '', /snapshot from peer n2 is owed/);
  // The operator fixes the login (here the users file takes the password n1 has): the retry, with
  // backoff from the heartbeat, succeeds with no restart, and n1 is in step again.
  const users = loadUsers(auth.usersFile);
  users.users[NODE_USER] = { role: 'node', ...(await hashPassword('wrong-password')) };
  saveUsers(auth.usersFile, users);
  await until(() => n1.hub.counters.get('cluster.snapshots') > 0, { timeoutMs: 60_000, what: 'n1\'s retried snapshot taken' });
  assert.deepEqual(n1.cluster?.status().snapshots.owed, []);
  await until(() => n1.cluster?.check().ok, { what: 'n1 in step again' });
});
