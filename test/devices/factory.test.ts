/** createSource / createSources: validation once, errors naming the field; the shipped profiles. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createSource, createSources, GpsdSource, LinuxHostSource, SimulatedSource } from '../../devices/index.js';
import { isHamsyncError } from '../../src/errors.js';
import { PROFILES, recordingLogger } from './helpers.js';

const log = recordingLogger();

function configError(fn: () => unknown, field: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isHamsyncError(err, 'HAMSYNC_ERR_CONFIG'), `HAMSYNC_ERR_CONFIG, got ${String(err)}`);
    assert.equal(err.details.field, field);
    assert.match(err.message, message);
    return true;
  });
}

test('defaults per type', () => {
  const host = createSource({ type: 'linux-host' }, 'pi-7', log);
  assert.ok(host instanceof LinuxHostSource);
  assert.deepEqual(host.options, { name: 'linux-host', prefix: 'pi-7', intervalMs: 10_000, root: '/', disk: '/' });
  const gps = createSource({ type: 'gpsd' }, 'pi-7', log);
  assert.ok(gps instanceof GpsdSource);
  assert.deepEqual(gps.options, { name: 'gpsd', prefix: 'pi-7', intervalMs: 1000, host: '127.0.0.1', port: 2947, stamp: 'clock', maxLine: 65536, reconnectMinMs: 1000, reconnectMaxMs: 30_000 });
  const sim = createSource({ type: 'simulated' }, 'pi-7', log);
  assert.ok(sim instanceof SimulatedSource);
  assert.equal(sim.options.intervalMs, 1000);
  assert.equal(sim.options.channels, 0);
  assert.equal(sim.name, 'simulated');
});

test('options are read: durations as strings or ms, prefix, name', () => {
  const s = createSource({ type: 'gpsd', interval: '250ms', prefix: 'fleet/van-3', name: 'gps-main', host: 'gps.local', port: 12947, stamp: 'gps', reconnectMin: 100, reconnectMax: '1m' }, 'van-3', log);
  assert.ok(s instanceof GpsdSource);
  assert.deepEqual(s.options, { name: 'gps-main', prefix: 'fleet/van-3', intervalMs: 250, host: 'gps.local', port: 12947, stamp: 'gps', maxLine: 65536, reconnectMinMs: 100, reconnectMaxMs: 60_000 });
  const h = createSource({ type: 'linux-host', interval: 30_000, root: '/host', disk: false }, 'van-3', log);
  assert.ok(h instanceof LinuxHostSource);
  assert.equal(h.options.intervalMs, 30_000);
  assert.equal(h.options.disk, false);
});

test('bad configs: HAMSYNC_ERR_CONFIG naming the field and the value', () => {
  configError(() => createSources([{ type: 'linux-host', interval: '-5s' }], 'd', log), 'sources[0].interval', /^HAMSYNC_ERR_CONFIG: sources\[0\]\.interval must be a duration .*, got "-5s"$/);
  configError(() => createSources([{ type: 'simulated' }, { type: 'gpsd', interval: 'fast' }], 'd', log), 'sources[1].interval', /got "fast"/);
  configError(() => createSources([{ type: 'gpsd', interval: 0 }], 'd', log), 'sources[0].interval', /got 0$/);
  configError(() => createSources([{ type: 'gpsd', interval: '2d' }], 'd', log), 'sources[0].interval', /got "2d"/);
  configError(() => createSources([{ type: 'gpsd', interval: true }], 'd', log), 'sources[0].interval', /got true/);
  configError(() => createSources([{ type: 'serial' }], 'd', log), 'sources[0].type', /must be one of "linux-host", "gpsd", "simulated", got "serial"/);
  configError(() => createSources([{}], 'd', log), 'sources[0].type', /got undefined/);
  configError(() => createSources(['gpsd'], 'd', log), 'sources[0]', /must be an object/);
  configError(() => createSources([null], 'd', log), 'sources[0]', /got null/);
  configError(() => createSources({ type: 'gpsd' }, 'd', log), 'sources', /must be an array/);
  configError(() => createSources([{ type: 'gpsd', intervall: '1s' }], 'd', log), 'sources[0].intervall', /is not an option of a "gpsd" source/);
  configError(() => createSources([{ type: 'linux-host', seed: 1 }], 'd', log), 'sources[0].seed', /not an option/);
  configError(() => createSources([{ type: 'gpsd', port: 70000 }], 'd', log), 'sources[0].port', /integer from 1 to 65535, got 70000/);
  configError(() => createSources([{ type: 'gpsd', port: '2947' }], 'd', log), 'sources[0].port', /got "2947"/);
  configError(() => createSources([{ type: 'gpsd', stamp: 'GPS' }], 'd', log), 'sources[0].stamp', /one of "clock", "gps", got "GPS"/);
  configError(() => createSources([{ type: 'gpsd', host: '' }], 'd', log), 'sources[0].host', /non-empty string/);
  configError(() => createSources([{ type: 'gpsd', reconnectMin: '10s', reconnectMax: '1s' }], 'd', log), 'sources[0].reconnectMax', /at least reconnectMin/);
  configError(() => createSources([{ type: 'gpsd', maxLine: 10 }], 'd', log), 'sources[0].maxLine', /got 10/);
  configError(() => createSources([{ type: 'simulated', seed: -1 }], 'd', log), 'sources[0].seed', /got -1/);
  configError(() => createSources([{ type: 'simulated', seed: 1.5 }], 'd', log), 'sources[0].seed', /got 1.5/);
  configError(() => createSources([{ type: 'simulated', channels: 5000 }], 'd', log), 'sources[0].channels', /got 5000/);
  configError(() => createSources([{ type: 'linux-host', disk: true }], 'd', log), 'sources[0].disk', /got true/);
  configError(() => createSources([{ type: 'linux-host', root: 7 }], 'd', log), 'sources[0].root', /got 7/);
  configError(() => createSources([{ type: 'linux-host', name: 'a\nb' }], 'd', log), 'sources[0].name', /non-empty string/);
  configError(() => createSource({ type: 'gpsd', interval: 'x' }, 'd', log), 'source.interval', /^HAMSYNC_ERR_CONFIG: source\.interval/);
});

test('bad prefixes are rejected with the key rules', () => {
  for (const prefix of ['', 'a//b', '/a', 'a/', 'a/+/b', 'a/#', 'tab\there', 'x'.repeat(200), Array(14).fill('s').join('/'), 42, null]) {
    configError(() => createSources([{ type: 'simulated', prefix }], 'd', log), 'sources[0].prefix', /must be a key prefix/);
  }
  assert.equal((createSource({ type: 'simulated', prefix: 'site-1/rack 2/ünit' }, 'd', log) as SimulatedSource).options.prefix, 'site-1/rack 2/ünit');
});

test('names must be unique; two sources of one type need a name', () => {
  configError(() => createSources([{ type: 'simulated' }, { type: 'simulated', seed: 2 }], 'd', log), 'sources[1].name', /unique/);
  const two = createSources([{ type: 'simulated' }, { type: 'simulated', seed: 2, name: 'sim-2', prefix: 'd/two' }], 'd', log);
  assert.deepEqual(
    two.map((s) => s.name),
    ['simulated', 'sim-2'],
  );
  assert.deepEqual(createSources([], 'd', log), []);
});

test('an invalid device id is HAMSYNC_ERR_SOURCE', () => {
  assert.throws(() => createSource({ type: 'simulated' }, 'bad/id', log), (err: unknown) => isHamsyncError(err, 'HAMSYNC_ERR_SOURCE'));
});

test('every profile in devices/profiles/ is valid and has the documented intervals', () => {
  const files = fs.readdirSync(PROFILES).filter((f) => f.endsWith('.json')).sort();
  assert.deepEqual(files, ['gps-unit.json', 'raspberry-pi.json', 'simulated.json']);
  const profile = (f: string): { sources: unknown[] } => JSON.parse(fs.readFileSync(path.join(PROFILES, f), 'utf8')) as { sources: unknown[] };
  for (const f of files) {
    const p = profile(f);
    assert.deepEqual(Object.keys(p), ['sources'], `${f} holds only daemon config keys`);
    assert.ok(createSources(p.sources, 'dev-1', log).length > 0, f);
  }
  const [pi] = createSources(profile('raspberry-pi.json').sources, 'pi', log);
  assert.ok(pi instanceof LinuxHostSource && pi.options.intervalMs === 10_000);
  const [gps] = createSources(profile('gps-unit.json').sources, 'gps', log);
  assert.ok(gps instanceof GpsdSource && gps.options.intervalMs === 1000 && gps.options.stamp === 'clock');
  const [sim] = createSources(profile('simulated.json').sources, 'sim', log);
  assert.ok(sim instanceof SimulatedSource && sim.options.intervalMs === 1000);
});
