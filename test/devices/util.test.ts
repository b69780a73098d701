/** The small pieces: line splitting, backoff, GPS time parsing, key segments, the PRNG. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixName, parseGpsTime, tpvReadings } from '../../devices/index.js';
import { Backoff } from '../../src/util/backoff.js';
import { safeSegment } from '../../devices/util/keys.js';
import { LineSplitter } from '../../devices/util/lines.js';
import { Prng, round, seedFromString } from '../../devices/util/prng.js';
import { assertKey } from '../../src/model/keys.js';
import { DEFAULT_LIMITS } from '../../src/model/limits.js';

function split(chunks: string[], max = 10): { lines: string[]; overflows: number } {
  const lines: string[] = [];
  let overflows = 0;
  const s = new LineSplitter(max, (l) => lines.push(l), () => overflows++);
  for (const c of chunks) s.push(c);
  return { lines, overflows };
}

test('LineSplitter: lines across chunks, CRLF, and a bound on length', () => {
  assert.deepEqual(split(['ab', 'c\r\nde\nf', 'g\n']), { lines: ['abc', 'de', 'fg'], overflows: 0 });
  assert.deepEqual(split(['0123456789\n']), { lines: ['0123456789'], overflows: 0 });
  assert.deepEqual(split(['0123456789A\nok\n']), { lines: ['ok'], overflows: 1 });
  assert.deepEqual(split(['01234567', '89AB', 'CDEF', 'GH\nok\n']), { lines: ['ok'], overflows: 1 });
  assert.deepEqual(split(['x'.repeat(50)]), { lines: [], overflows: 1 });
  assert.deepEqual(split(['\n\n']), { lines: ['', ''], overflows: 0 });
});

test('Backoff: doubles up to max with ±20 % jitter, reset starts over', () => {
  const b = new Backoff(100, 1000, () => 0.5);
  assert.deepEqual(
    Array.from({ length: 6 }, () => b.next()),
    [100, 200, 400, 800, 1000, 1000],
  );
  b.reset();
  assert.equal(b.next(), 100);
  const low = new Backoff(100, 1000, () => 0);
  const high = new Backoff(100, 1000, () => 0.999);
  assert.equal(low.next(), 80);
  assert.equal(high.next(), 120);
  const far = new Backoff(100, 1000);
  for (let i = 0; i < 100; i++) assert.ok(far.next() <= 1000);
});

test('parseGpsTime: real UTC instants from 1980 to 9999 only', () => {
  assert.equal(parseGpsTime('2035-02-04T09:28:36.000Z'), Date.UTC(2035, 1, 4, 9, 28, 36));
  assert.equal(parseGpsTime('2035-02-04T09:28:36Z'), Date.UTC(2035, 1, 4, 9, 28, 36));
  assert.equal(parseGpsTime('2026-11-22T09:53:05.802Z'), Date.UTC(2026, 10, 22, 9, 53, 5, 802));
  assert.equal(parseGpsTime('2026-11-22T09:53:05.8029999Z'), Date.UTC(2026, 10, 22, 9, 53, 5, 802));
  assert.equal(parseGpsTime('2024-02-29T00:00:00.5Z'), Date.UTC(2024, 1, 29, 0, 0, 0, 500));
  assert.equal(parseGpsTime('1980-01-06T00:00:00.000Z'), Date.UTC(1980, 0, 6));
  for (const bad of ['2023-02-29T00:00:00Z', '2035-13-01T00:00:00Z', '2035-00-10T00:00:00Z', '2035-02-04T09:61:00Z', '1980-01-05T23:59:59Z', '2035-02-04T09:28:36', '2035-02-04T09:28:36.Z', ' 2035-02-04T09:28:36Z', 'NaN', '', undefined, null, 2035, 1.7e12]) {
    assert.equal(parseGpsTime(bad), undefined, JSON.stringify(bad));
  }
});

test('fixName and tpvReadings', () => {
  assert.deepEqual([0, 1, 2, 3, 4, '3', undefined].map(fixName), ['none', 'none', '2d', '3d', undefined, undefined, undefined]);
  const r = tpvReadings({ class: 'TPV', mode: 3, time: '2035-02-04T09:28:36.000Z', lat: 1, lon: 2, alt: 5, speed: 0 }, Date.UTC(2026, 10, 25), 'p', 'gps');
  const state = Date.UTC(2035, 1, 4, 9, 28, 36);
  assert.equal(r.gpsMs, state);
  assert.deepEqual(r.readings.at(-1), { key: 'p/gps/clock-offset-ms', value: state - Date.UTC(2026, 10, 25), state });
  assert.deepEqual(tpvReadings({ mode: 3, lat: NaN, lon: Infinity, speed: -0 }, 0, 'p', 'clock').readings, [
    { key: 'p/gps/fix', value: '3d' },
    { key: 'p/gps/speed', value: -0 },
  ]);
});

test('safeSegment makes valid key segments out of anything', () => {
  const samples = ['cpu-thermal', ' a b ', 'x/y#z+', '\u0000\u001f', '', '   ', 'é'.repeat(100), '\ud83d\ude00'.repeat(30), '\ud800lone'];
  for (const s of samples) {
    const seg = safeSegment(s, 'fallback');
    assert.ok(seg.length > 0 && seg.length <= 48, JSON.stringify(seg));
    assertKey(`p/thermal/${seg}`, DEFAULT_LIMITS);
  }
  assert.equal(safeSegment('cpu-thermal', 'z'), 'cpu-thermal');
  assert.equal(safeSegment('   ', 'z'), 'z');
});

test('Prng is a fixed sequence; round keeps short numbers and no -0', () => {
  const a = new Prng(1);
  const first = [a.next(), a.next(), a.next()];
  const b = new Prng(1);
  assert.deepEqual([b.next(), b.next(), b.next()], first);
  assert.ok(first.every((x) => x >= 0 && x < 1));
  assert.equal(seedFromString('dev-a'), seedFromString('dev-a'));
  assert.notEqual(seedFromString('dev-a'), seedFromString('dev-b'));
  assert.equal(round(1.23456, 3), 1.235);
  assert.ok(Object.is(round(-0.0001, 3), 0));
});
