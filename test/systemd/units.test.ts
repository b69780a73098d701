import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkConfigFile } from '../../src/config/load.js';
import { BROKER_KEYS, DAEMON_KEYS } from '../../src/config/schema.js';
import { skipUnlessTools } from '../helpers/tools.js';

const dir = fileURLToPath(new URL('../../../systemd/', import.meta.url));
const units = ['hamsync.service', 'hamsync-broker.service'];

test('systemd-analyze verify passes on both units', { skip: skipUnlessTools('systemd-analyze') }, () => {
  const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => dir + u)], { encoding: 'utf8' });
  assert.equal(r.status, 0, `systemd-analyze verify failed:\n${r.stdout}${r.stderr}`);
  assert.equal(r.stderr.trim(), '', `systemd-analyze verify warned:\n${r.stderr}`);
});

test('each unit runs hamsync as a hardened, restartable service with its own state directory', () => {
  for (const unit of units) {
    const text = readFileSync(dir + unit, 'utf8');
    for (const line of ['DynamicUser=yes', 'Restart=on-failure', 'ProtectSystem=strict', 'NoNewPrivileges=yes', 'PrivateTmp=yes', 'ProtectHome=yes', 'CapabilityBoundingSet=']) {
      assert.match(text, new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), `${unit} lacks ${line}`);
    }
    assert.match(text, /^StateDirectory=hamsync(-broker)?$/m);
    assert.match(text, /^EnvironmentFile=-\/etc\/default\/hamsync(-broker)?$/m);
    assert.match(text, /^ExecStart=\/usr\/bin\/env hamsync (daemon|broker) --config \/etc\/hamsync\/(hamsync|broker)\.yaml$/m);
    // Node's JIT cannot run with W^X memory.
    assert.doesNotMatch(text, /^MemoryDenyWriteExecute=yes$/m);
  }
});

test('the offline security analysis rates both units "OK" (exposure below 4.0)', { skip: skipUnlessTools('systemd-analyze') }, () => {
  for (const unit of units) {
    const out = execFileSync('systemd-analyze', ['security', '--offline=yes', dir + unit], { encoding: 'utf8' });
    const m = /Overall exposure level for \S+: ([\d.]+) (\w+)/.exec(out);
    assert.ok(m, out.slice(-500));
    assert.ok(Number(m[1]) < 4, `${unit} exposure ${m[1]}`);
    assert.ok(m[2] === 'OK' || m[2] === 'SAFE', `${unit} rated ${m[2]}`);
  }
});

test('the example config files pass hamsync config check', () => {
  assert.deepEqual(checkConfigFile(dir + 'hamsync.yaml.example', DAEMON_KEYS).problems, []);
  assert.deepEqual(checkConfigFile(dir + 'broker.yaml.example', BROKER_KEYS).problems, []);
});
