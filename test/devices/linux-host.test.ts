/** The linux-host source against fixture trees (test/fixtures/linux-host/) and temp trees. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { createSource, LinuxHostSource, type Reading } from '../../devices/index.js';
import { parseLoadavg, parseMeminfo, parseMillidegrees, parseUptime } from '../../devices/sources/procfs.js';
import { Collector, FIXTURES, recordingLogger } from './helpers.js';
import { tempDir } from '../helpers/tmp.js';

const PI = path.join(FIXTURES, 'linux-host/raspberry-pi');
const NO_THERMAL = path.join(FIXTURES, 'linux-host/no-thermal');

function source(root: string, extra: Record<string, unknown> = {}, log = recordingLogger()): LinuxHostSource {
  const s = createSource({ type: 'linux-host', root, ...extra }, 'pi-1', log);
  assert.ok(s instanceof LinuxHostSource);
  return s;
}

function asMap(readings: Reading[]): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (const r of readings) {
    assert.equal(map.has(r.key), false, `duplicate key ${r.key}`);
    assert.equal(r.state, undefined, 'linux-host readings are stamped by the daemon clock');
    map.set(r.key, r.value);
  }
  return map;
}

function tempTree(t: { after(fn: () => void): void }, files: Record<string, string>): string {
  const root = tempDir(t);
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

test('Raspberry Pi tree: thermal zone, cpu temp, load, memory, uptime, disk', async () => {
  const m = asMap(await source(PI).collect());
  assert.equal(m.get('pi-1/thermal/cpu-thermal'), 48.312);
  assert.equal(m.get('pi-1/cpu/temp'), 48.312);
  assert.equal(m.get('pi-1/load/1m'), 0.52);
  assert.equal(m.get('pi-1/load/5m'), 0.58);
  assert.equal(m.get('pi-1/load/15m'), 0.59);
  assert.equal(m.get('pi-1/mem/total'), 3884816 * 1024);
  assert.equal(m.get('pi-1/mem/available'), 3101234 * 1024);
  assert.equal(m.get('pi-1/mem/used-ratio'), Math.round((1 - 3101234 / 3884816) * 10000) / 10000);
  assert.equal(m.get('pi-1/uptime/s'), 354821.47);
  // disk is statfs of the real '/', not under root
  const ratio = m.get('pi-1/disk/used-ratio');
  assert.ok(typeof ratio === 'number' && ratio >= 0 && ratio <= 1, `disk/used-ratio ${String(ratio)}`);
  const free = m.get('pi-1/disk/free-bytes');
  assert.ok(typeof free === 'number' && Number.isInteger(free) && free >= 0, `disk/free-bytes ${String(free)}`);
  assert.deepEqual(
    [...m.keys()].sort(),
    [
      'pi-1/cpu/temp',
      'pi-1/disk/free-bytes',
      'pi-1/disk/used-ratio',
      'pi-1/load/15m',
      'pi-1/load/1m',
      'pi-1/load/5m',
      'pi-1/mem/available',
      'pi-1/mem/total',
      'pi-1/mem/used-ratio',
      'pi-1/thermal/cpu-thermal',
      'pi-1/uptime/s',
    ],
  );
});

test('a host without thermal zones: no thermal or cpu keys, no crash, the rest as usual', async () => {
  const m = asMap(await source(NO_THERMAL, { disk: false, prefix: 'site/vm' }).collect());
  assert.deepEqual([...m.keys()].sort(), [
    'site/vm/load/15m',
    'site/vm/load/1m',
    'site/vm/load/5m',
    'site/vm/mem/available',
    'site/vm/mem/total',
    'site/vm/mem/used-ratio',
    'site/vm/uptime/s',
  ]);
  assert.equal(m.get('site/vm/load/1m'), 2.1);
  assert.equal(m.get('site/vm/mem/used-ratio'), 0.25);
  assert.equal(m.get('site/vm/uptime/s'), 86400);
});

test('no sys/ at all, and a missing proc file: skipped with a debug log, the rest still read', async (t) => {
  const root = tempTree(t, {
    'proc/loadavg': fs.readFileSync(path.join(PI, 'proc/loadavg'), 'utf8'),
    'proc/uptime': 'not a number\n',
  });
  const log = recordingLogger();
  const m = asMap(await source(root, { disk: '/definitely/not/here' }, log).collect());
  assert.deepEqual([...m.keys()].sort(), ['pi-1/load/15m', 'pi-1/load/1m', 'pi-1/load/5m']);
  const debug = log.entries.filter((e) => e.level === 'debug').map((e) => e.msg);
  assert.ok(debug.includes('no thermal zones'), debug.join(', '));
  assert.ok(debug.includes('file unreadable'), debug.join(', '));
  assert.ok(debug.includes('no uptime'), debug.join(', '));
  assert.ok(debug.includes('disk unreadable'), debug.join(', '));
  assert.equal(log.entries.filter((e) => e.level !== 'debug').length, 0);
});

test('several zones: shared types get the zone number, cpu/temp prefers the CPU zone, broken zones are skipped', async (t) => {
  const root = tempTree(t, {
    'sys/class/thermal/thermal_zone0/type': 'acpitz\n',
    'sys/class/thermal/thermal_zone0/temp': '27800\n',
    'sys/class/thermal/thermal_zone1/type': 'acpitz\n',
    'sys/class/thermal/thermal_zone1/temp': '29800\n',
    'sys/class/thermal/thermal_zone2/type': 'x86_pkg_temp\n',
    'sys/class/thermal/thermal_zone2/temp': '54000\n',
    'sys/class/thermal/thermal_zone3/type': 'iwlwifi_1\n',
    'sys/class/thermal/thermal_zone3/temp': '', // EIO/ENODATA on a real box: nothing readable
    'sys/class/thermal/thermal_zone4/type': 'pch skylake/#1\n', // spaces, / and # are not key material
    'sys/class/thermal/thermal_zone4/temp': '61000\n',
    'sys/class/thermal/thermal_zone5/temp': '-5000\n', // no type file
    'sys/class/thermal/thermal_zone6/type': 'garbage\n',
    'sys/class/thermal/thermal_zone6/temp': '999999999\n',
  });
  fs.mkdirSync(path.join(root, 'sys/class/thermal/thermal_zone7')); // no files at all
  const m = asMap(await source(root, { disk: false }).collect());
  assert.deepEqual(Object.fromEntries(m), {
    'pi-1/thermal/acpitz-0': 27.8,
    'pi-1/thermal/acpitz-1': 29.8,
    'pi-1/thermal/x86_pkg_temp': 54,
    'pi-1/thermal/pch_skylake_1': 61,
    'pi-1/thermal/thermal_zone5': -5,
    'pi-1/cpu/temp': 54, // the x86_pkg_temp zone, although pch is hotter
  });
});

test('no CPU-named zone: cpu/temp is the hottest zone', async (t) => {
  const root = tempTree(t, {
    'sys/class/thermal/thermal_zone0/type': 'soc\n',
    'sys/class/thermal/thermal_zone0/temp': '40000\n',
    'sys/class/thermal/thermal_zone1/type': 'gpu\n',
    'sys/class/thermal/thermal_zone1/temp': '45500\n',
  });
  const m = asMap(await source(root, { disk: false }).collect());
  assert.equal(m.get('pi-1/cpu/temp'), 45.5);
});

test('start emits a batch at once and then every interval; stop ends it', async () => {
  const s = source(PI, { interval: '60ms', disk: false });
  const c = new Collector();
  s.start(c.emit);
  assert.throws(() => s.start(c.emit), /already running/);
  await c.until(() => c.batches.length >= 3, '3 batches');
  // Nothing is emitted after stop: the ticker schedules nothing once stopped (test/devices/ticker.test.ts).
  await s.stop();
  assert.deepEqual(c.values('pi-1/thermal/cpu-thermal').slice(0, 3), [48.312, 48.312, 48.312]);
  await s.stop(); // idempotent
});

test('procfs parsers reject what they do not understand', () => {
  assert.deepEqual(parseLoadavg('0.00 0.01 0.05 1/100 1\n'), { m1: 0, m5: 0.01, m15: 0.05 });
  assert.equal(parseLoadavg(''), undefined);
  assert.equal(parseLoadavg('a b c'), undefined);
  assert.equal(parseLoadavg('1 2'), undefined);
  assert.deepEqual(parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n'), { totalBytes: 1024000, availableBytes: 409600 });
  assert.equal(parseMeminfo('MemFree: 100 kB\n'), undefined);
  assert.equal(parseMeminfo('MemTotal: 0 kB\nMemAvailable: 0 kB\n'), undefined);
  assert.equal(parseUptime('12.5 3.0\n'), 12.5);
  assert.equal(parseUptime(''), undefined);
  assert.equal(parseUptime('-1 0'), undefined);
  assert.equal(parseMillidegrees('48312\n'), 48.312);
  assert.equal(parseMillidegrees('48.3'), undefined);
  assert.equal(parseMillidegrees(''), undefined);
  assert.equal(parseMillidegrees('-300000'), undefined);
});
