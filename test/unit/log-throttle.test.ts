import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LogThrottle } from '../../src/log-throttle.js';

test('log throttle: one line per key per interval, then the number suppressed', () => {
  let t = 0;
  const th = new LogThrottle(1000, () => t, 3);
  assert.deepEqual(th.take('a'), { suppressed: 0 });
  for (let i = 0; i < 5; i++) assert.equal(th.take('a'), undefined);
  assert.deepEqual(th.take('b'), { suppressed: 0 }, 'keys are apart');
  t = 1000;
  assert.deepEqual(th.take('a'), { suppressed: 5 });
  assert.equal(th.take('a'), undefined);
  th.take('c');
  th.take('d'); // a 4th key: the table is cleared, so it stays bounded
  assert.deepEqual(th.take('a'), { suppressed: 0 });
});
