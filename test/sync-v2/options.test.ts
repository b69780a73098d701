/**
 * `--sync-log-max` / `syncLogMax`: checked where every broker option is (config file key,
 * startBroker option, command line), each error naming the field and the value it got.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startBroker } from '../../broker/server.js';
import { BROKER_KEYS } from '../../src/config/schema.js';
import { tempDir } from '../helpers/tmp.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('syncLogMax: a config key, a startBroker option and --sync-log-max, each checked naming field and value', { timeout: 30_000 }, async (t) => {
  const check = BROKER_KEYS.syncLogMax as (v: unknown, f: string) => void;
  check(1000, 'syncLogMax');
  assert.throws(() => check(0, 'syncLogMax'), /syncLogMax must be a whole number >= 1, got 0/);
  assert.throws(() => check('lots', 'syncLogMax'), /syncLogMax must be a whole number >= 1, got "lots"/);
  await assert.rejects(startBroker({ port: 0, host: '127.0.0.1', dataDir: join(tempDir(t), 'hub'), syncLogMax: 2.5 }), /syncLogMax must be a positive integer, got 2\.5/);
  const out = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, [cli, 'broker', '--port', '0', '--host', '127.0.0.1', '--data-dir', join(tempDir(t), 'hub'), '--sync-log-max', '-3'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('exit', (code) => resolve({ code, err }));
  });
  assert.notEqual(out.code, 0);
  assert.match(out.err, /sync-log-max must be a positive integer, got -3/);
});
