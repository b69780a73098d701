/**
 * The option tables (src/config/*-options.ts) and what is made from them: the merged defaults of
 * a library caller equal the command line's, the help text carries the program's defaults, the
 * config schema is the table's checks, and the input types are derived (checked at compile time).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BROKER, BROKER_DEFAULTS } from '../../src/config/broker-options.js';
import { CLIENT } from '../../src/config/client-options.js';
import { DAEMON, type DaemonInput } from '../../src/config/daemon-options.js';
import { envOf, flagOf, helpText, withDefaults, yargsOptions, type OptionEntry } from '../../src/config/option-table.js';
import { BROKER_KEYS, DAEMON_KEYS } from '../../src/config/schema.js';
import { daemonConfig } from '../../src/daemon/options.js';
import { DEFAULT_QUEUE_LIMITS } from '../../src/sync/queue-limits.js';
import { parseDuration } from '../../src/util/duration.js';
import { parseSize } from '../../src/util/size.js';
import { expectHamsyncError } from '../helpers/errors.js';

// Compile-time: the input type is derived from the table (required keys, choices, value types).
const typed: DaemonInput = { id: 'pi-7', dataDir: '/x', sync: 'hub', subscribe: ['a/#'], retainHistory: '30d', window: 8 };
// @ts-expect-error -- `sync` takes only auto, hub or peer
const badSync: DaemonInput = { id: 'pi-7', dataDir: '/x', sync: 'mesh' };
// @ts-expect-error -- `id` is required
const noId: DaemonInput = { dataDir: '/x' };

test('option table: names map to flags and env vars', () => {
  assert.equal(flagOf('deferredMaxBytes'), 'deferred-max-bytes');
  assert.equal(envOf('deferredMaxBytes'), 'HAMSYNC_DEFERRED_MAX_BYTES');
  assert.deepEqual(Object.keys(DAEMON_KEYS), Object.keys(DAEMON));
  assert.deepEqual(Object.keys(BROKER_KEYS), Object.keys(BROKER));
  assert.ok(typed && badSync && noId);
});

test('option table: a library caller gets the same defaults as the command line, merged once', () => {
  const merged = withDefaults(DAEMON, { id: 'pi-7', dataDir: '/x' }, (key) => assert.fail(`unknown ${key}`));
  const flags = yargsOptions(DAEMON);
  for (const [name, e] of Object.entries(DAEMON) as [string, OptionEntry][]) {
    const flag = flags[flagOf(name)];
    if (e.required || e.defaultBy === 'program' || e.defaultBy === 'merge') continue;
    assert.deepEqual(merged[name as keyof typeof merged], flag?.default, `${name}: library default = --${flagOf(name)} default`);
  }
  const config = daemonConfig({ id: 'pi-7', dataDir: '/x' });
  assert.equal(config.window, 64);
  assert.equal(config.broker, 'mqtt://127.0.0.1:1883');
  assert.deepEqual(config.subscribe, ['#']);
  assert.deepEqual(config.reconnect, { minMs: 1000, maxMs: 60_000 });
  assert.equal(config.clockDriftPpm, 0);
  assert.equal(config.sync, 'auto');
});

test('option table: defaults the programs apply are the programs\' own, shown in --help', () => {
  assert.equal(parseDuration(DAEMON.maxFuture.default, 'x'), DEFAULT_QUEUE_LIMITS.maxFutureMs);
  assert.equal(parseSize(BROKER.deferredMaxBytes.default, 'x'), DEFAULT_QUEUE_LIMITS.deferredMaxBytesPerSource);
  assert.equal(parseSize(BROKER.maxPacket.default, 'x'), 320 * 1024);
  assert.equal(parseDuration(BROKER.drainTimeout.default, 'x'), BROKER_DEFAULTS.drainTimeoutMs);
  assert.equal(helpText(DAEMON.deferredMax), 'most deferred updates per source; over it a batch is refused whole (default 10000)');
  assert.equal(helpText(BROKER.maxQueued), 'most bytes queued for a client that does not read; beyond: disconnected (default 32MiB)');
  assert.equal(yargsOptions(BROKER)['deferred-max']?.default, undefined, 'the replica applies it: no flag default');
});

test('option table: client options take HAMSYNC_HTTP as the default of --http, nothing else from the environment', (t) => {
  const saved = { http: process.env.HAMSYNC_HTTP, json: process.env.HAMSYNC_JSON };
  t.after(() => {
    for (const [k, v] of [['HAMSYNC_HTTP', saved.http], ['HAMSYNC_JSON', saved.json]] as const) if (v === undefined) delete process.env[k]; else process.env[k] = v;
  });
  process.env.HAMSYNC_HTTP = '127.0.0.1:9999';
  process.env.HAMSYNC_JSON = 'true';
  const flags = yargsOptions(CLIENT);
  assert.equal(flags.http?.default, '127.0.0.1:9999');
  assert.equal(flags.json?.default, false);
});

test('option table: a bad or unknown option names the key and the value', () => {
  const e = expectHamsyncError(() => daemonConfig({ id: 'pi-7', dataDir: '/x', window: 0 }), 'HAMSYNC_ERR_CONFIG', 'window 0');
  assert.match(e.message, /window must be an integer from 1 to 65535, got 0/);
  assert.match(expectHamsyncError(() => daemonConfig({ id: 'pi-7', dataDir: '/x', sync: 'x' as 'hub' }), 'HAMSYNC_ERR_CONFIG', 'sync x').message, /sync must be one of auto, hub, peer, got "x"/);
  assert.match(expectHamsyncError(() => daemonConfig({ id: 'pi-7', dataDir: '/x', colour: 'red' } as DaemonInput), 'HAMSYNC_ERR_CONFIG', 'unknown').message, /unknown daemon option colour/);
  assert.match(expectHamsyncError(() => daemonConfig({ id: 'pi-7' } as DaemonInput), 'HAMSYNC_ERR_CONFIG', 'no dataDir').message, /dataDir is required/);
});
