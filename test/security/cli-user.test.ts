/**
 * `hamsync user add/remove/list` through the compiled CLI, and `hamsync broker --users` as a
 * child process refusing and accepting logins.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { CLI, Harness, childEnv, runCli } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';

/** Runs the CLI with `input` on stdin. */
function runWithStdin(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(input);
  });
}

test('CLI: user add (flag and stdin), list (text and JSON, no hashes), remove; the file holds no password', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'users.json');
  const add = await runCli(['user', 'add', 'pi-7', '--role', 'device', '--users', file, '--password', 'flag-secret-1']);
  assert.equal(add.code, 0, add.stderr);
  assert.match(add.stdout, /added pi-7 \(device\)/);
  const viaStdin = await runWithStdin(['user', 'add', 'dash', '--role', 'observer', '--ns', 'default', '--users', file], 'stdin-secret-2\nignored\n');
  assert.equal(viaStdin.code, 0, viaStdin.stderr);
  const admin = await runCli(['user', 'add', 'root', '--role', 'admin', '--users', file, '--password', 'admin-secret-3']);
  assert.equal(admin.code, 0, admin.stderr);

  const text = fs.readFileSync(file, 'utf8');
  for (const pw of ['flag-secret-1', 'stdin-secret-2', 'admin-secret-3', 'ignored']) assert.ok(!text.includes(pw), `no ${pw} in the users file`);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);

  const list = await runCli(['user', 'list', '--users', file]);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual(list.stdout.trim().split('\n'), ['dash\tobserver\tdefault', 'pi-7\tdevice\t*', 'root\tadmin\t*']);
  const json = await runCli(['user', 'list', '--users', file, '--json']);
  assert.deepEqual(JSON.parse(json.stdout), [
    { id: 'dash', role: 'observer', ns: ['default'] },
    { id: 'pi-7', role: 'device', ns: null },
    { id: 'root', role: 'admin', ns: null },
  ]);
  const users = JSON.parse(text) as { users: Record<string, { salt: string; hash: string }> };
  for (const out of [list.stdout, json.stdout]) {
    for (const r of Object.values(users.users)) assert.ok(!out.includes(r.hash) && !out.includes(r.salt), 'list never prints hashes or salts');
  }

  const rm = await runCli(['user', 'remove', 'pi-7', '--users', file]);
  assert.equal(rm.code, 0, rm.stderr);
  assert.deepEqual(Object.keys((JSON.parse(fs.readFileSync(file, 'utf8')) as { users: object }).users).sort(), ['dash', 'root']);
  const again = await runCli(['user', 'remove', 'pi-7', '--users', file]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /HAMSYNC_ERR_USERS/);
  for (const bad of [
    ['user', 'add', 'bad id', '--role', 'device', '--users', file, '--password', 'x'],
    ['user', 'add', 'x', '--role', 'god', '--users', file, '--password', 'x'],
    ['user', 'add', 'x', '--role', 'device', '--users', file, '--password', ''],
    ['user', 'list', '--users', join(dir, 'missing.json')],
  ]) {
    const r = await runCli(bad);
    assert.notEqual(r.code, 0, bad.join(' '));
    assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  }
  assert.deepEqual(fs.readdirSync(dir), ['users.json'], 'no temp files left');
});

test('CLI: hamsync broker --users refuses a wrong password and accepts the right one', { timeout: 60_000 }, async (t) => {
  const h = new Harness(t);
  const dir = h.tempDir('users');
  const file = join(dir, 'users.json');
  assert.equal((await runCli(['user', 'add', 'pi-7', '--role', 'device', '--users', file, '--password', 'pw'])).code, 0);
  const proc = h.spawn('broker', ['broker', '--port', '0', '--host', '127.0.0.1', '--data-dir', h.tempDir('hub'), '--users', file]);
  const { port } = await proc.listening();
  const url = `mqtt://127.0.0.1:${String(port)}`;
  await assert.rejects(mqtt.connectAsync(url, { clientId: 'hamsync-pi-7', username: 'pi-7', password: 'nope', reconnectPeriod: 0 }), (err: { code?: number }) => err.code === 4);
  await assert.rejects(mqtt.connectAsync(url, { clientId: 'someone', reconnectPeriod: 0 }), (err: { code?: number }) => err.code === 5);
  const ok = await mqtt.connectAsync(url, { clientId: 'hamsync-pi-7', username: 'pi-7', password: 'pw', reconnectPeriod: 0 });
  await ok.endAsync();
  await proc.stop();
  assert.match(proc.stderr, /"login refused".*"HAMSYNC_ERR_AUTH"/);
});
