/**
 * Duplicate member names in hamsync payloads are refused (issue 14, item 19): JSON.parse keeps the
 * last of them, other readers the first, so `"src":"dev-b","src":"dev-a"` meant different things
 * to different readers. Also measures what the scan adds to decoding a 100-update put.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePut, parseObject, DEFAULT_WIRE_LIMITS } from '../../src/wire/codec.js';
import { duplicateKey } from '../../src/wire/strict-json.js';
import { expectHamsyncError } from '../helpers/errors.js';

test('duplicateKey finds a name twice in one object, at any depth, escapes decoded; nothing else', () => {
  const dup: [string, string][] = [
    ['{"a":1,"a":2}', 'a'],
    ['{"src":"dev-b","u":[],"src":"dev-a"}', 'src'],
    ['{"x":[{"k":1},{"k":2,"k":3}]}', 'k'],
    ['{"a":{"b":1,"c":{"d":1,"d":2}}}', 'd'],
    ['{"\\u0073rc":1,"src":2}', 'src'],
    ['{"a\\"b":1,"a\\"b":2}', 'a"b'],
    ['{"":1,"":2}', ''],
    ['{"a":1,"b":2,"c":3,"a":4}', 'a'],
  ];
  for (const [text, name] of dup) assert.equal(duplicateKey(text), name, text);
  const fine = [
    '{"a":1,"b":2}',
    '{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}',
    '{"a":"\\"a\\":1,\\"a\\"","b":["a","a"]}',
    '{"a":"}{,\\\\","b":1}',
    '[1,{"a":1},{"a":2}]',
    '"{\\"a\\":1,\\"a\\":2}"',
    '{"a\\\\":1,"a":2}',
    '{}',
  ];
  for (const text of fine) assert.equal(duplicateKey(text), undefined, text);
});

test('a put, state or catch-up payload with a member twice is refused as HAMSYNC_ERR_PAYLOAD', () => {
  const body = '{"src":"dev-b","src":"dev-a","u":[{"k":"a","v":1,"s":1}]}';
  const err = expectHamsyncError(() => decodePut(body, 'dev-a'), 'HAMSYNC_ERR_PAYLOAD', 'src twice');
  assert.match(err.message, /"src" twice/);
  expectHamsyncError(() => decodePut('{"src":"a","u":[{"k":"a","v":{"x":1,"x":2},"s":1}]}', 'a'), 'HAMSYNC_ERR_PAYLOAD', 'in a value');
  expectHamsyncError(() => parseObject('{"v":1,"s":1,"s":2,"src":"a"}', DEFAULT_WIRE_LIMITS, 'state'), 'HAMSYNC_ERR_PAYLOAD', 'state');
  assert.equal(decodePut('{"src":"a","u":[{"k":"a","v":{"x":1,"y":[{"x":2}]},"s":1}]}', 'a').updates.length, 1);
});

test('bench: decoding a 100-update put, with and without the duplicate scan', () => {
  const u = Array.from({ length: 100 }, (_, i) => ({ k: `pi-7/sensor/${i}`, v: { t: 20 + i / 10, ok: true, tags: ['a', 'b'] }, s: 1795629525462 + i, g: 'x'.repeat(86) }));
  const text = JSON.stringify({ src: 'pi-7', u });
  const payload = Buffer.from(text);
  const N = 2000;
  const time = (fn: () => unknown): number => {
    for (let i = 0; i < 200; i++) fn();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) fn();
    return ((performance.now() - t0) / N) * 1000;
  };
  // Before: what decodePut cost without the scan (UTF-8 check, parse); after: decodePut as it is.
  const parseOnly = time(() => JSON.parse(payload.toString('utf8')));
  const scan = time(() => duplicateKey(text));
  const decode = time(() => decodePut(payload, 'pi-7'));
  console.log(`# ${payload.length}-byte put of 100 updates: JSON.parse ${parseOnly.toFixed(1)} µs, duplicate scan ${scan.toFixed(1)} µs, decodePut (with scan) ${decode.toFixed(1)} µs`);
  assert.ok(scan < 10_000, 'the scan takes well under 10 ms');
});
