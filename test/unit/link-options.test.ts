import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkOptions } from '../../src/daemon/link-options.js';
import { daemonConfig } from '../../src/daemon/options.js';

test("the daemon's mqtt.js options turn off the 65,536-Buffer number cache (writeCache: false) and keep the persistent session", () => {
  const options = linkOptions(daemonConfig({ id: 'pi-7', dataDir: '/x', username: 'pi-7', password: 'secret' }));
  assert.equal(options.writeCache, false);
  assert.equal(options.clientId, 'hamsync-pi-7');
  assert.equal(options.clean, false);
  assert.equal(options.reconnectPeriod, 0, 'reconnects are the Reconnector\'s');
  assert.equal(options.username, 'pi-7');
  assert.equal(options.password, 'secret');
  assert.equal(options.will?.topic, 'hamsync/default/presence/pi-7');
  assert.equal(options.will?.retain, true);
});
