import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selfCommand } from '../../src/cli/demo.js';

test('the demo prints commands the way hamsync was started: npx hamsync under npx, hamsync from a bin, else node <main.js>', () => {
  assert.equal(selfCommand({ npm_command: 'exec' }, '/root/.npm/_npx/abc/node_modules/.bin/hamsync', '/src/hamsync'), 'npx hamsync');
  assert.equal(selfCommand({}, '/usr/local/bin/hamsync', '/home/pi'), 'hamsync');
  assert.equal(selfCommand({ npm_command: 'run-script' }, '/src/hamsync/dist/src/cli/main.js', '/src/hamsync'), 'node dist/src/cli/main.js');
  assert.equal(selfCommand({}, '/src/hamsync/dist/src/cli/main.js', '/home/pi'), 'node /src/hamsync/dist/src/cli/main.js');
  assert.equal(selfCommand({}, "/home/o'brien/my hamsync/dist/src/cli/main.js", '/tmp'), `node '/home/o'\\''brien/my hamsync/dist/src/cli/main.js'`);
});
