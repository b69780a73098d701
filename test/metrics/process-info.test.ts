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

test('hamsync status (human): version and uptime, the last error, broker clients and the devices with a skew of 2 s or more', async () => {
  const { processLines } = await import('../../src/cli/status.js');
  assert.deepEqual(processLines({ role: 'daemon', version: '1.2.3', uptimeS: 42, lastError: null }), ['version   1.2.3, up 42 s']);
  assert.deepEqual(
    processLines({
      role: 'broker', version: '1.2.3', uptimeS: 5, clients: 3,
      lastError: { message: 'store failed: disk full', code: 'HAMSYNC_ERR_STORE', at: Date.UTC(2026, 0, 2, 3, 4, 5) },
      devices: [{ id: 'a', skewS: 0.1 }, { id: 'b', skewS: 5.04 }, { id: 'c', skewS: null }, { id: 'd', skewS: -2 }],
    }),
    ['version   1.2.3, up 5 s', 'last error store failed: disk full (HAMSYNC_ERR_STORE) at 2026-01-02T03:04:05.000Z', 'clients   3 connected', 'devices   4 seen; clock skew: b +5.0 s, d -2.0 s'],
  );
  // An older daemon or broker without these fields: nothing added.
  assert.deepEqual(processLines({ role: 'daemon' }), []);
});
