/** Status' version, uptime and last error (src/admin/process-info.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessInfo, VERSION } from '../../src/admin/process-info.js';
import { createLogger } from '../../src/log.js';

test('the last error logged (by a logger or its children) is in status, with its code; other levels are not', () => {
  const lines: string[] = [];
  const info = new ProcessInfo();
  const log = info.track(createLogger('debug', {}, (l) => lines.push(l)));
  assert.deepEqual(info.status().lastError, null);
  log.warn('just a warning', { code: 'HAMSYNC_ERR_RATE' });
  assert.equal(info.status().lastError, null);
  log.child({ part: 'x' }).error('store failed', { code: 'HAMSYNC_ERR_STORE', err: 'disk full' });
  const s = info.status();
  assert.equal(s.version, VERSION);
  assert.match(s.version, /^\d+\.\d+\.\d+/);
  assert.equal(typeof s.uptimeS, 'number');
  assert.equal(s.lastError?.message, 'store failed: disk full');
  assert.equal(s.lastError?.code, 'HAMSYNC_ERR_STORE');
  assert.equal(lines.length, 2, 'every line still reaches the logger');
  assert.match(lines[1] ?? '', /"part":"x"/);
});
