import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { checkConfigFile } from '../../src/config/load.js';
import { BROKER_KEYS, DAEMON_KEYS } from '../../src/config/schema.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { unitNodeFlags } from '../bench/pi.js';

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

test("the daemon's unit runs node with the Pi budget's flags (docs/operations.md), the ones the bench's pi section measures", () => {
  const text = readFileSync(dir + 'hamsync.service', 'utf8');
  assert.deepEqual(unitNodeFlags(text), ['--max-semi-space-size=1', '--jitless']);
  // systemd lets the EnvironmentFile's NODE_OPTIONS (if any) win: an operator's override.
  assert.match(text, /^EnvironmentFile=-\/etc\/default\/hamsync$/m);
  // Only flags node accepts in NODE_OPTIONS (--lite-mode is not one): the unit would not start otherwise.
  const r = spawnSync(process.execPath, ['-e', '0'], { env: { ...process.env, NODE_OPTIONS: unitNodeFlags(text).join(' ') }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // The broker keeps the JIT and V8's default young generation: it is the fleet's hot path.
  assert.deepEqual(unitNodeFlags(readFileSync(dir + 'hamsync-broker.service', 'utf8')), []);
});

test('the example config files pass hamsync config check', () => {
  assert.deepEqual(checkConfigFile(dir + 'hamsync.yaml.example', DAEMON_KEYS).problems, []);
  assert.deepEqual(checkConfigFile(dir + 'broker.yaml.example', BROKER_KEYS).problems, []);
});

test('every ${CREDENTIALS_DIRECTORY}/<id> an example config names is a LoadCredential=<id> of its unit, and each unit loads its secrets from the credential store', () => {
  for (const [unit, example] of [['hamsync.service', 'hamsync.yaml.example'], ['hamsync-broker.service', 'broker.yaml.example']] as const) {
    const text = readFileSync(dir + unit, 'utf8');
    const loaded = new Set([...text.matchAll(/^LoadCredential=(.+)$/gm)].map((m) => m[1]));
    // A bare id: systemd looks for /etc/credstore/<id>, and skips a missing one (an absolute path would stop the unit).
    for (const id of loaded) assert.match(id ?? '', /^[A-Za-z0-9_.@+-]+$/, `${unit}: LoadCredential=${String(id)} is a bare credential id`);
    const named = [...readFileSync(dir + example, 'utf8').matchAll(/\$\{CREDENTIALS_DIRECTORY\}\/([A-Za-z0-9_.@+-]+)/g)].map((m) => m[1]);
    assert.ok(named.length >= 2, `${example} names its secrets as credentials`);
    for (const id of named) assert.ok(loaded.has(id), `${example} names \${CREDENTIALS_DIRECTORY}/${String(id)}, but ${unit} has no LoadCredential=${String(id)}`);
  }
  assert.match(readFileSync(dir + 'hamsync-broker.service', 'utf8'), /^LoadCredential=hamsync\.users\.json$/m);
  assert.match(readFileSync(dir + 'hamsync.service', 'utf8'), /^LoadCredential=hamsync\.signing\.key$/m);
});

test('the cluster env file example sets only broker options, each with a valid value (commented ones too)', async () => {
  const { BROKER } = await import('../../src/config/broker-options.js');
  const { envOf } = await import('../../src/config/option-table.js');
  const byEnv = new Map(Object.entries(BROKER).map(([name, e]) => [envOf(name), { name, check: e.check }]));
  const text = readFileSync(dir + 'hamsync-broker-cluster.env.example', 'utf8');
  const vars = [...text.matchAll(/^#? ?(HAMSYNC_[A-Z_]+)=(\S+)$/gm)];
  assert.deepEqual(vars.map((m) => m[1]), ['HAMSYNC_CLUSTER', 'HAMSYNC_NODE_ID', 'HAMSYNC_ADVERTISE']);
  for (const [, env, value] of vars) {
    const option = byEnv.get(env ?? '');
    assert.ok(option, `${String(env)} is not a broker option`);
    option.check(value, option.name);
  }
});
