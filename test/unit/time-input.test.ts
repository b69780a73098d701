/**
 * Time and duration input: durations need a unit and are bounded, clock offsets and drift are
 * bounded, one parser for instants (ISO 8601 or a number), `put` values that JSON cannot carry,
 * and replay pacing over gaps longer than Node's timers can wait.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseValue } from '../../src/cli/put.js';
import { daemonConfig } from '../../src/daemon/options.js';
import { MAX_SLEEP_MS, pacer } from '../../src/replay/pace.js';
import { checkDriftPpm, parseClockOffset, parseDuration } from '../../src/util/duration.js';
import { parseInstant } from '../../src/util/instant.js';
import { expectHamsyncError } from '../helpers/errors.js';
import { fakeTimer } from '../helpers/fake-timer.js';

test('durations: text needs a unit (a bare 5 is refused, 0 is fine); numbers are ms; at most 100 years', () => {
  assert.equal(parseDuration('5s', 'x'), 5000);
  assert.equal(parseDuration('-2m', 'x'), -120_000);
  assert.equal(parseDuration('250ms', 'x'), 250);
  assert.equal(parseDuration('0', 'x'), 0);
  assert.equal(parseDuration('+0', 'x'), 0);
  assert.equal(parseDuration(1500, 'x'), 1500, 'a number (JSON config, code) is ms');
  for (const bad of ['5', '+5', '-250', '1.5', '100000000000d', '36526d', 'soon', '', '5 s', Infinity, NaN]) {
    const e = expectHamsyncError(() => parseDuration(bad, 'clock-offset'), 'HAMSYNC_ERR_CONFIG', `duration ${String(bad)}`);
    assert.match(e.message, /clock-offset/, 'names the field');
  }
  assert.match(expectHamsyncError(() => parseDuration('5', 'f'), 'HAMSYNC_ERR_CONFIG', '5').message, /with a unit/);
  assert.equal(parseDuration('36525d', 'x'), 36_525 * 86_400_000);
});

test('clock offset: a unit always (even a config number), within ±366d; drift within ±100000 ppm', () => {
  assert.equal(parseClockOffset('+5s', 'clockOffset'), 5000);
  assert.equal(parseClockOffset('-366d', 'clockOffset'), -366 * 86_400_000);
  assert.equal(parseClockOffset(0, 'clockOffset'), 0);
  for (const bad of ['100000000000d', '367d', '-400d', '5', 5, '1e3']) expectHamsyncError(() => parseClockOffset(bad, 'clockOffset'), 'HAMSYNC_ERR_CONFIG', `offset ${String(bad)}`);
  assert.equal(checkDriftPpm(-100_000, 'clockDriftPpm'), -100_000);
  for (const bad of [100_001, -5e5, 999_999, NaN, '50']) expectHamsyncError(() => checkDriftPpm(bad, 'clockDriftPpm'), 'HAMSYNC_ERR_CONFIG', `drift ${String(bad)}`);
  // Wired into the daemon's options.
  const base = { id: 'd', dataDir: '/tmp/x' };
  assert.equal(daemonConfig({ ...base, clockOffset: '+2h' }).clockOffsetMs, 7_200_000);
  expectHamsyncError(() => daemonConfig({ ...base, clockOffset: '100000000000d' }), 'HAMSYNC_ERR_CONFIG', 'huge offset');
  expectHamsyncError(() => daemonConfig({ ...base, clockOffset: '5' }), 'HAMSYNC_ERR_CONFIG', 'bare 5');
  expectHamsyncError(() => daemonConfig({ ...base, clockDriftPpm: 500_000 }), 'HAMSYNC_ERR_CONFIG', 'drift 5e5');
});

test('instants: ISO 8601 or a finite number, for every time option', () => {
  assert.equal(parseInstant('2026-11-25T14:02:00Z', 'from'), Date.UTC(2026, 10, 25, 14, 2));
  assert.equal(parseInstant('2026-11-25T14:02:00.123+01:00', 'from'), Date.UTC(2026, 10, 25, 13, 2, 0, 123));
  assert.equal(parseInstant('2026-11-25T14:02', 'from'), Date.UTC(2026, 10, 25, 14, 2), 'no zone is UTC');
  assert.equal(parseInstant('1764079320000', 'from'), 1_764_079_320_000);
  assert.equal(parseInstant(' 12.5 ', 'from'), 12.5);
  for (const bad of ['1e400', '-1e400', 'yesterday', '2026-13-45T99:00Z', '', 'NaN']) expectHamsyncError(() => parseInstant(bad, 'state'), 'HAMSYNC_ERR_CONFIG', `instant ${bad}`);
});

test('put values: 1e400 is refused (never sent as null); broken JSON is a string with a note; --string and --json-value force one', () => {
  const notes: string[] = [];
  const note = (l: string): void => void notes.push(l);
  for (const text of ['1e400', '-1e400', '[1, 1e999]', '{"a":{"b":1e309}}']) {
    const e = expectHamsyncError(() => parseValue(text, 'auto', note), 'HAMSYNC_ERR_VALUE', text);
    assert.ok(e.message.includes(JSON.stringify(text)), `quotes the value: ${e.message}`);
  }
  assert.deepEqual(parseValue('1e308', 'auto', note), 1e308);
  assert.deepEqual(notes, []);
  assert.equal(parseValue('{"a":', 'auto', note), '{"a":');
  assert.equal(notes.length, 1);
  assert.match(notes[0] ?? '', /not valid JSON.*stored as the string "\{\\"a\\":"/);
  assert.equal(parseValue('Hello {Mars}', 'auto', note), 'Hello {Mars}', 'plain text is not a typo');
  assert.equal(notes.length, 1, 'no note for plain text');
  assert.equal(parseValue('42', 'string', note), '42');
  assert.equal(parseValue('{"a":', 'string', note), '{"a":');
  assert.equal(notes.length, 1, 'no note with --string');
  expectHamsyncError(() => parseValue('{"a":', 'json', note), 'HAMSYNC_ERR_VALUE', '--json-value with broken JSON');
  assert.deepEqual(parseValue('{"a":1}', 'json', note), { a: 1 });
});

test('pacing: a gap longer than a Node timer can wait is slept in chunks of at most MAX_SLEEP_MS', async () => {
  const timer = fakeTimer();
  const { sleeps } = timer;
  const wait = pacer(1, timer);
  const DAY = 86_400_000;
  await wait(0);
  await wait(100 * DAY); // two states 100 days apart, at real time
  assert.ok(sleeps.length > 1, 'more than one sleep');
  assert.ok(sleeps.every((ms) => ms > 0 && ms <= MAX_SLEEP_MS && ms <= 2 ** 31 - 1), `every sleep fits a timer: max ${Math.max(...sleeps)}`);
  assert.equal(timer.now(), 100 * DAY, 'slept the whole gap');
  assert.equal(sleeps.length, Math.ceil((100 * DAY) / MAX_SLEEP_MS));
});

test('pacing: a stop ends a long wait at the next chunk', async () => {
  let stop = false;
  const timer = fakeTimer((sleeps) => (stop = sleeps.length === 3));
  const wait = pacer(1, timer, () => stop);
  await wait(0);
  await wait(365 * 86_400_000);
  assert.equal(timer.sleeps.length, 3, 'stopped after the chunk during which the stop came');
});
