/**
 * The units' processes under a transient, unprivileged user (what DynamicUser=yes gives them):
 * each unit's own ExecStart command line, run with setpriv as uid/gid 65534, with the example
 * config and the secrets laid out as systemd's LoadCredential= lays them out ($CREDENTIALS_DIRECTORY
 * readable by that uid only, holding copies of root-owned 0600 files). And the same secrets named
 * directly: a clear coded error naming the file, not a stack trace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import { api, CLI, Harness, runCli, uniqueId, type Launch } from '../helpers/procs.js';
import { noSkip, skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

const UNITS = fileURLToPath(new URL('../../../systemd/', import.meta.url));
const NOBODY = 65534;

/** setpriv, and root to switch to another uid; else the reason to skip (a failure under HAMSYNC_NO_SKIP=1). */
function skipUnlessRootAndSetpriv(): string | false {
  const tool = skipUnlessTools('setpriv');
  if (tool) return tool;
  if (process.getuid?.() === 0) return false;
  const reason = 'needs root, to run the units\' command lines as uid 65534';
  if (noSkip()) throw new Error(`HAMSYNC_NO_SKIP=1 and ${reason}`);
  return reason;
}
const skip = skipUnlessRootAndSetpriv();

/** The arguments after `hamsync` in a unit's ExecStart=, with /etc/hamsync/ moved to `etc`. */
function execStartArgs(unit: string, etc: string): string[] {
  const line = /^ExecStart=\/usr\/bin\/env hamsync (.+)$/m.exec(fs.readFileSync(path.join(UNITS, unit), 'utf8'));
  assert.ok(line?.[1], `${unit} has no ExecStart=/usr/bin/env hamsync ... line`);
  return line[1].split(/\s+/).map((a) => a.replace(/^\/etc\/hamsync\//, `${etc}/`));
}

/** The unit's LoadCredential= ids. */
function credentialIds(unit: string): string[] {
  return [...fs.readFileSync(path.join(UNITS, unit), 'utf8').matchAll(/^LoadCredential=([^:\s]+)$/gm)].map((m) => m[1] as string);
}

/** An example config with `edits` applied: each [key, value] replaces the key's line, commented out or not. */
function exampleConfig(example: string, edits: [string, string][]): string {
  let text = fs.readFileSync(path.join(UNITS, example), 'utf8');
  for (const [key, value] of edits) {
    const re = new RegExp(`^(# )?${key}:.*$`, 'm');
    assert.match(text, re, `${example} has no ${key}: line`);
    text = text.replace(re, `${key}: ${value}`);
  }
  return text;
}

/** A line of an example config, uncommented and without its trailing comment. */
function uncommented(example: string, key: string): string {
  const m = new RegExp(`^# ${key}: (\\S+)`, 'm').exec(fs.readFileSync(path.join(UNITS, example), 'utf8'));
  assert.ok(m?.[1], `${example} has no commented ${key}: line`);
  return m[1];
}

/**
 * What systemd does for LoadCredential=<id>: copies /etc/credstore/<id> (here `store`) into a
 * directory owned by the service's uid, mode 0500, each file 0400. Only ids whose file exists.
 */
function layOutCredentials(store: string, dir: string, ids: string[]): void {
  fs.mkdirSync(dir);
  for (const id of ids) {
    const from = path.join(store, id);
    if (!fs.existsSync(from)) continue;
    fs.copyFileSync(from, path.join(dir, id));
    fs.chmodSync(path.join(dir, id), 0o400);
    fs.chownSync(path.join(dir, id), NOBODY, NOBODY);
  }
  fs.chmodSync(dir, 0o500);
  fs.chownSync(dir, NOBODY, NOBODY);
}

/** A StateDirectory= for the service: owned by its uid, mode 0700. */
function stateDir(dir: string): string {
  fs.mkdirSync(dir, { mode: 0o700 });
  fs.chownSync(dir, NOBODY, NOBODY);
  return dir;
}

/**
 * The CLI where uid 65534 can run it: this checkout when every directory above it lets others
 * through, else (a clone under a 0700 temp dir, as CI runners may make) a copy of its dist,
 * node_modules and package.json in a world-readable temp dir, removed after the test.
 */
function cliForNobody(t: { after: (fn: () => void) => void }): string {
  const root = path.resolve(CLI, '..', '..', '..', '..');
  let open = true;
  for (let dir = root; ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) open = false;
    if (path.dirname(dir) === dir) break;
  }
  if (open) return CLI;
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'hamsync-nobody-'));
  fs.chmodSync(copy, 0o755);
  t.after(() => fs.rmSync(copy, { recursive: true, force: true }));
  for (const part of ['dist', 'node_modules', 'package.json']) fs.cpSync(path.join(root, part), path.join(copy, part), { recursive: true, dereference: true });
  return path.join(copy, path.relative(root, CLI));
}

const asNobody = (env: NodeJS.ProcessEnv, cwd: string, cli: string): Launch => ({ prefix: ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--'], env, cwd, cli });

function uidOf(pid: number | undefined): number {
  const m = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${String(pid)}/status`, 'utf8'));
  return Number(m?.[1]);
}

/** A root-owned tree: etc/ (configs, 0644), credstore/ (0700, secrets 0600 as `user add` and `key generate` write them). */
async function rootSecrets(h: Harness, password: string): Promise<{ base: string; etc: string; store: string; pub: string }> {
  const base = h.tempDir('units');
  fs.chmodSync(base, 0o755);
  const etc = path.join(base, 'etc');
  const store = path.join(base, 'credstore');
  fs.mkdirSync(etc, { mode: 0o755 });
  fs.mkdirSync(store, { mode: 0o700 });
  const users = path.join(store, 'hamsync.users.json');
  for (const args of [
    ['user', 'add', 'pi-7', '--role', 'device', '--users', users, '--password', password],
    ['key', 'generate', '--out', path.join(store, 'hamsync.signing.key')],
  ]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, `hamsync ${args.join(' ')}: ${r.stderr}`);
  }
  for (const f of ['hamsync.users.json', 'hamsync.signing.key']) {
    const st = fs.statSync(path.join(store, f));
    assert.equal(st.uid, 0, `${f} is root's`);
    assert.equal(st.mode & 0o777, 0o600, `${f} is mode 0600`);
  }
  const pub = fs.readFileSync(path.join(store, 'hamsync.signing.key.pub'), 'utf8').trim();
  return { base, etc, store, pub };
}

test('both units\' command lines, as uid 65534 with LoadCredential= copies of root-only secrets, read their users file and signing key', { skip, timeout: 90_000 }, async (t) => {
  const h = new Harness(t);
  const cli = cliForNobody(t);
  const password = uniqueId('pw-');
  const { base, etc, store, pub } = await rootSecrets(h, password);

  // The broker: broker.yaml.example with its users line as shipped (a credential), on a free loopback port.
  const usersRef = uncommented('broker.yaml.example', 'users');
  assert.equal(usersRef, '${CREDENTIALS_DIRECTORY}/hamsync.users.json');
  fs.writeFileSync(path.join(etc, 'broker.yaml'), exampleConfig('broker.yaml.example', [['port', '0'], ['host', '127.0.0.1'], ['users', usersRef], ['logLevel', 'warn']]), { mode: 0o644 });
  const brokerCreds = path.join(base, 'creds-broker');
  layOutCredentials(store, brokerCreds, credentialIds('hamsync-broker.service'));
  const brokerEnv = { CREDENTIALS_DIRECTORY: brokerCreds, STATE_DIRECTORY: stateDir(path.join(base, 'state-broker')) };
  const broker = h.spawn('broker', execStartArgs('hamsync-broker.service', etc), asNobody(brokerEnv, base, cli));
  const { port } = await broker.listening();
  assert.equal(uidOf(broker.child.pid), NOBODY, 'the broker runs as uid 65534');
  const url = `mqtt://127.0.0.1:${String(port)}`;

  // It enforces the users file it read: a wrong password is refused.
  await assert.rejects(mqtt.connectAsync(url, { clientId: 'hamsync-pi-7.probe', username: 'pi-7', password: 'wrong', reconnectPeriod: 0, connectTimeout: 5000 }), /Bad username or password|Not authorized|refused/i);

  // The daemon: hamsync.yaml.example with its signing key as shipped (a credential), its username,
  // and the password from the environment (what EnvironmentFile=/etc/default/hamsync gives it).
  const keyRef = uncommented('hamsync.yaml.example', 'signingKey');
  assert.equal(keyRef, '${CREDENTIALS_DIRECTORY}/hamsync.signing.key');
  fs.writeFileSync(
    path.join(etc, 'hamsync.yaml'),
    exampleConfig('hamsync.yaml.example', [['broker', url], ['http', '127.0.0.1:0'], ['username', 'pi-7'], ['signingKey', keyRef], ['logLevel', 'warn']]),
    { mode: 0o644 },
  );
  const daemonCreds = path.join(base, 'creds-daemon');
  layOutCredentials(store, daemonCreds, credentialIds('hamsync.service'));
  const daemonEnv = { CREDENTIALS_DIRECTORY: daemonCreds, STATE_DIRECTORY: stateDir(path.join(base, 'state-daemon')), HAMSYNC_PASSWORD: password };
  const daemon = h.spawn('daemon', execStartArgs('hamsync.service', etc), asNobody(daemonEnv, base, cli));
  const { http } = await daemon.listening();
  assert.equal(uidOf(daemon.child.pid), NOBODY, 'the daemon runs as uid 65534');
  const statusUrl = `127.0.0.1:${String(http)}`;
  let status: { connected?: boolean; signing?: { pub?: string } } = {};
  await until(async () => {
    status = (await api(statusUrl, 'GET', '/v1/status')).body as typeof status;
    return status.connected === true;
  }, { timeoutMs: 15_000, what: `the daemon to log in to the broker as pi-7; stderr: ${daemon.tail()}` });
  assert.equal(status.signing?.pub, pub, 'the daemon signs with the key from its credential');
  await h.stopAll();
});

test('without credentials, a root-owned 0600 secret is a one-line coded error naming the file, not a stack trace', { skip, timeout: 60_000 }, async (t) => {
  const h = new Harness(t);
  const cli = cliForNobody(t);
  const { base, etc, store } = await rootSecrets(h, 'pw');
  // The secrets where an operator would first put them: beside the config, root's, mode 0600.
  for (const f of ['hamsync.users.json', 'hamsync.signing.key']) fs.copyFileSync(path.join(store, f), path.join(etc, f));
  fs.writeFileSync(path.join(etc, 'broker.yaml'), exampleConfig('broker.yaml.example', [['port', '0'], ['host', '127.0.0.1'], ['users', path.join(etc, 'hamsync.users.json')]]));
  fs.writeFileSync(path.join(etc, 'hamsync.yaml'), exampleConfig('hamsync.yaml.example', [['http', '127.0.0.1:0'], ['signingKey', path.join(etc, 'hamsync.signing.key')]]));
  // A TLS file too (the daemon's link reads it): a copy of a root-only secret will do, it is never parsed.
  fs.copyFileSync(path.join(store, 'hamsync.signing.key'), path.join(etc, 'ca.pem'));
  fs.writeFileSync(path.join(etc, 'tls.yaml'), exampleConfig('hamsync.yaml.example', [['broker', 'mqtts://127.0.0.1:1'], ['http', '127.0.0.1:0'], ['ca', path.join(etc, 'ca.pem')]]));
  const cases = [
    { unit: 'hamsync-broker.service', what: 'users file', file: path.join(etc, 'hamsync.users.json'), state: stateDir(path.join(base, 'state-broker')) },
    { unit: 'hamsync.service', what: 'private key file', file: path.join(etc, 'hamsync.signing.key'), state: stateDir(path.join(base, 'state-daemon')) },
    { unit: 'hamsync.service', config: 'tls.yaml', what: 'ca file', file: path.join(etc, 'ca.pem'), state: stateDir(path.join(base, 'state-tls')) },
  ];
  for (const c of cases) {
    const args = execStartArgs(c.unit, etc).map((a) => (c.config && a.endsWith('/hamsync.yaml') ? path.join(etc, c.config) : a));
    const r = await runCli(args, 20_000, asNobody({ STATE_DIRECTORY: c.state }, base, cli));
    assert.equal(r.code, 1, `${c.unit}: exit ${String(r.code)}; stderr: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `${c.unit}: one line on stderr, got:\n${r.stderr}`);
    assert.ok(lines[0]?.startsWith(`hamsync: HAMSYNC_ERR_FILE: cannot read ${c.what} ${c.file}: permission denied to uid ${String(NOBODY)}`), `${c.unit}: ${r.stderr}`);
    assert.match(r.stderr, /LoadCredential=/, `${c.unit}: says what to do`);
    assert.doesNotMatch(r.stderr, /^\s+at /m, `${c.unit}: no stack trace`);
  }
});
