import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfigFile, loadConfigFile } from '../../src/config/load.js';
import { BROKER_KEYS, DAEMON_KEYS } from '../../src/config/schema.js';
import { createLogger } from '../../src/log.js';
import { daemonConfig } from '../../src/daemon/options.js';
import { tempDir } from '../helpers/tmp.js';
import { resolveLimits } from '../../src/model/limits.js';
import { expectHamsyncError } from '../helpers/errors.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Starts `hamsync broker` with the given args and env, returns its first log lines, then stops it. */
function brokerStart(args: string[], env: Record<string, string>): Promise<{ code: number | null; logs: Record<string, unknown>[]; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, 'broker', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const logs: Record<string, unknown>[] = [];
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      for (const line of d.toString().split('\n')) {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          /* not a log line */
        }
      }
    });
    child.stdout.on('data', () => child.kill('SIGTERM'));
    const hard = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('exit', (code) => {
      clearTimeout(hard);
      resolve({ code, logs, err });
    });
  });
}

test('precedence: command line > environment > config file > defaults', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'broker.yaml');
  writeFileSync(file, `port: 0\nhost: 127.0.0.1\nns: from-file\ndata-dir: ${join(dir, 'file-dir')}\nlogLevel: info\n`);
  const listening = (logs: Record<string, unknown>[]): Record<string, unknown> | undefined => logs.find((l) => l.msg === 'broker listening');
  // File only.
  let r = await brokerStart(['--config', file], {});
  assert.equal(r.code, 0, r.err);
  assert.equal(listening(r.logs)?.ns, 'from-file');
  assert.equal(listening(r.logs)?.dataDir, join(dir, 'file-dir'));
  // Env beats the file.
  r = await brokerStart(['--config', file], { HAMSYNC_NS: 'from-env', HAMSYNC_DATA_DIR: join(dir, 'env-dir') });
  assert.equal(listening(r.logs)?.ns, 'from-env');
  assert.equal(listening(r.logs)?.dataDir, join(dir, 'env-dir'));
  // The command line beats both.
  // (its own data dir: a data dir belongs to one namespace)
  r = await brokerStart(['--config', file, '--ns', 'from-cli', '--data-dir', join(dir, 'cli-dir')], { HAMSYNC_NS: 'from-env' });
  assert.equal(listening(r.logs)?.ns, 'from-cli');
  // Defaults where nobody said anything: host from the file, but the log level default is overridden by the file (info).
  assert.equal(listening(r.logs)?.host, '127.0.0.1');
  // Unrelated HAMSYNC_* variables (another command's, a test seed) are not taken as options.
  r = await brokerStart(['--config', file], { HAMSYNC_SEED: '5', HAMSYNC_HTTP: '127.0.0.1:1' });
  assert.equal(r.code, 0, r.err);
  // A bad value from the environment is named, like one from a flag.
  r = await brokerStart(['--config', file], { HAMSYNC_NS: 'no spaces allowed' });
  assert.notEqual(r.code, 0);
  assert.match(r.err, /ns must be 1-64 characters.*"no spaces allowed"/);
});

test('config check: every problem with its key and line; syntax errors with their line', async (t) => {
  const dir = tempDir(t);
  const bad = join(dir, 'bad.yaml');
  writeFileSync(bad, ['# device config', 'id: pi-7', 'broker: http://hub:1883', 'clock-offset: soon', 'subscribe: ["a/#", "b/#/c"]', 'window: 0', 'bogus: 1', 'retain-bytes: lots', ''].join('\n'));
  const { problems } = checkConfigFile(bad, DAEMON_KEYS);
  assert.deepEqual(
    problems.map((p) => [p.line, p.key]),
    [[3, 'broker'], [4, 'clock-offset'], [5, 'subscribe'], [6, 'window'], [7, 'bogus'], [8, 'retain-bytes']],
  );
  assert.match(problems[0]?.message ?? '', /broker must be a URL like mqtt:\/\/host:1883.*got "http:\/\/hub:1883"/);
  assert.throws(() => loadConfigFile(bad, DAEMON_KEYS), /bad\.yaml:3: broker must be/);
  const syntax = join(dir, 'syntax.yaml');
  writeFileSync(syntax, 'id: pi-7\nsubscribe: [\n');
  assert.equal(checkConfigFile(syntax, DAEMON_KEYS).problems[0]?.line, 3);
  const broker = join(dir, 'broker.json');
  writeFileSync(broker, '{\n  "port": 1883,\n  "wsPort": 70000\n}\n');
  assert.deepEqual(checkConfigFile(broker, BROKER_KEYS).problems.map((p) => [p.line, p.key]), [[3, 'wsPort']]);
  assert.throws(() => checkConfigFile(join(dir, 'missing.yaml'), DAEMON_KEYS), /cannot read config file/);
  // The CLI prints file:line: key: message per problem and exits non-zero.
  const out = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, 'config', 'check', bad], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, err }));
  });
  assert.equal(out.code, 1);
  assert.match(out.err, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: clock-offset: clockOffset must be a duration`));
  assert.match(out.err, /hamsync: HAMSYNC_ERR_CONFIG: 6 problems in /);
});

test('logs are JSON lines with level, time, msg and fields; the level filters', () => {
  const lines: string[] = [];
  const log = createLogger('warn', { app: 'hamsync' }, (l) => lines.push(l));
  log.info('not shown');
  log.warn('shown', { code: 'HAMSYNC_ERR_PAYLOAD' });
  log.child({ device: 'pi-7' }).error('also shown');
  assert.equal(lines.length, 2);
  const first = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
  assert.deepEqual([first.level, first.msg, first.app, first.code], ['warn', 'shown', 'hamsync', 'HAMSYNC_ERR_PAYLOAD']);
  assert.ok(!Number.isNaN(Date.parse(String(first.time))));
  assert.equal((JSON.parse(lines[1] ?? '') as Record<string, unknown>).device, 'pi-7');
  assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
});

test('the daemon HTTP API listens on loopback only (it has no authentication)', () => {
  for (const http of ['127.0.0.1:7878', '127.0.0.2:1', '[::1]:7878', 'localhost:7878', '7878']) {
    assert.doesNotThrow(() => daemonConfig({ id: 'pi-7', dataDir: '/x', http }), http);
  }
  for (const http of ['0.0.0.0:7878', '192.168.1.5:7878', '[::]:7878', 'example.com:80']) {
    assert.throws(() => daemonConfig({ id: 'pi-7', dataDir: '/x', http }), /http must listen on a loopback address/, http);
  }
});

test('limits: maxKeyBytes cannot go past what LMDB can store (1024)', () => {
  assert.equal(resolveLimits({ maxKeyBytes: 1024 }).maxKeyBytes, 1024);
  assert.match(expectHamsyncError(() => resolveLimits({ maxKeyBytes: 1025 }), 'HAMSYNC_ERR_CONFIG', 'maxKeyBytes 1025').message, /limits\.maxKeyBytes must be at most 1024, got 1025/);
});
