import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { checkPath, credentialId, resolveCredentialPath, resolveCredentialPaths } from '../../src/config/credentials.js';
import { checkConfigFile } from '../../src/config/load.js';
import { BROKER_KEYS, DAEMON_KEYS } from '../../src/config/schema.js';
import { readTextOrFail } from '../../src/util/read-file.js';
import { expectHamsyncError } from '../helpers/errors.js';
import { tempDir } from '../helpers/tmp.js';

const env = { CREDENTIALS_DIRECTORY: '/run/credentials/hamsync.service' };

test('${CREDENTIALS_DIRECTORY}/<id> (and $CREDENTIALS_DIRECTORY/<id>) resolves into the credentials directory; plain paths are kept', () => {
  assert.equal(resolveCredentialPath('${CREDENTIALS_DIRECTORY}/hamsync.users.json', 'users', env), '/run/credentials/hamsync.service/hamsync.users.json');
  assert.equal(resolveCredentialPath('$CREDENTIALS_DIRECTORY/hamsync.signing.key', 'signingKey', env), '/run/credentials/hamsync.service/hamsync.signing.key');
  assert.equal(resolveCredentialPath('/etc/hamsync/users.json', 'users', env), '/etc/hamsync/users.json');
  assert.equal(resolveCredentialPath('users.json', 'users', {}), 'users.json');
  assert.equal(credentialId('/etc/x', 'users'), undefined);
  const out = resolveCredentialPaths({ users: '${CREDENTIALS_DIRECTORY}/u.json', keys: 'k.json', port: 1 }, ['users', 'keys', 'tlsKey'], env);
  assert.deepEqual(out, { users: '/run/credentials/hamsync.service/u.json', keys: 'k.json', port: 1 });
});

test('a credential reference without $CREDENTIALS_DIRECTORY, or of a bad form, is a HAMSYNC_ERR_CONFIG naming the option and the value', () => {
  const unset = expectHamsyncError(() => resolveCredentialPath('${CREDENTIALS_DIRECTORY}/hamsync.users.json', 'users', {}), 'HAMSYNC_ERR_CONFIG', 'unset');
  assert.match(unset.message, /users is "\$\{CREDENTIALS_DIRECTORY\}\/hamsync.users.json": \$CREDENTIALS_DIRECTORY is not set; systemd sets it for a unit with LoadCredential=/);
  expectHamsyncError(() => resolveCredentialPath('${CREDENTIALS_DIRECTORY}/x', 'users', { CREDENTIALS_DIRECTORY: 'relative' }), 'HAMSYNC_ERR_CONFIG', 'relative dir');
  for (const bad of ['$HOME/users.json', '${CREDENTIALS_DIRECTORY}/../etc/shadow', '${CREDENTIALS_DIRECTORY}/a/b', '${CREDENTIALS_DIRECTORY}/', '${CREDENTIALS_DIRECTORY}/..']) {
    const e = expectHamsyncError(() => resolveCredentialPath(bad, 'tlsKey', env), 'HAMSYNC_ERR_CONFIG', bad);
    assert.ok(e.message.startsWith(`HAMSYNC_ERR_CONFIG: tlsKey is ${JSON.stringify(bad)}`), e.message);
  }
  expectHamsyncError(() => checkPath('', 'users'), 'HAMSYNC_ERR_CONFIG', 'empty');
  expectHamsyncError(() => checkPath(5, 'users'), 'HAMSYNC_ERR_CONFIG', 'number');
});

test('config check accepts credential references for the path keys and names a malformed one with its line', () => {
  const dir = tempDir();
  const good = path.join(dir, 'good.yaml');
  fs.writeFileSync(good, 'users: ${CREDENTIALS_DIRECTORY}/hamsync.users.json\ntlsKey: "$CREDENTIALS_DIRECTORY/hamsync.tls-key.pem"\n');
  assert.deepEqual(checkConfigFile(good, BROKER_KEYS).problems, []);
  const bad = path.join(dir, 'bad.yaml');
  fs.writeFileSync(bad, 'id: pi-7\nsigningKey: $HOME/pi-7.key\n');
  const { problems } = checkConfigFile(bad, DAEMON_KEYS);
  assert.equal(problems.length, 1);
  assert.equal(problems[0]?.line, 2);
  assert.match(problems[0]?.message ?? '', /signingKey is "\$HOME\/pi-7.key": the only variable a path may start with is \$\{CREDENTIALS_DIRECTORY\}/);
});

test('a credential systemd did not pass is HAMSYNC_ERR_FILE saying which LoadCredential= and credstore file to check', (t) => {
  const dir = tempDir(t);
  const saved = process.env.CREDENTIALS_DIRECTORY;
  process.env.CREDENTIALS_DIRECTORY = dir;
  t.after(() => {
    if (saved === undefined) delete process.env.CREDENTIALS_DIRECTORY;
    else process.env.CREDENTIALS_DIRECTORY = saved;
  });
  const e = expectHamsyncError(() => readTextOrFail(path.join(dir, 'hamsync.users.json'), 'users file'), 'HAMSYNC_ERR_FILE', 'missing credential');
  assert.match(e.message, /cannot read users file .*hamsync\.users\.json: no such file: systemd passed no credential "hamsync\.users\.json"; does the unit have LoadCredential=hamsync\.users\.json, and is \/etc\/credstore\/hamsync\.users\.json there\?/);
  // Elsewhere a missing file is just that.
  const plain = expectHamsyncError(() => readTextOrFail('/nonexistent/hamsync/users.json', 'users file'), 'HAMSYNC_ERR_FILE', 'missing file');
  assert.equal(plain.message, 'HAMSYNC_ERR_FILE: cannot read users file /nonexistent/hamsync/users.json: no such file');
});
