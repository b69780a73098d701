/**
 * `hamsync key generate/show/set/remove/list` and `user add --pub` through the compiled CLI: a
 * signature made with the generated key file verifies with the key taken from the users file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadUsers } from '../../src/auth/users.js';
import { generateSigningKey, loadPrivateKey } from '../../src/sign/key-file.js';
import { loadKeyring, loadKeysFile } from '../../src/sign/keyring.js';
import { checkSignatures, type SignedUpdate } from '../../src/sign/policy.js';
import { sign } from '../../src/sign/sign.js';
import { runCli, type CliResult } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';

const PUB = /^[A-Za-z0-9_-]{43}$/;

function ok(r: CliResult, what: string): string {
  assert.equal(r.code, 0, `${what}: exit ${String(r.code)}; stderr: ${r.stderr}`);
  return r.stdout;
}

function fails(r: CliResult, what: string, code: RegExp): void {
  assert.equal(r.code, 1, `${what}: expected exit 1, got ${String(r.code)}; stdout: ${r.stdout}; stderr: ${r.stderr.slice(0, 500)}`);
  assert.match(r.stderr, code, what);
  assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack trace`);
}

test('CLI: key generate -> set -> list; a signature made with the key file verifies with the users file', { timeout: 90_000 }, async (t) => {
  const dir = tempDir(t);
  const users = join(dir, 'users.json');
  const keyFile = join(dir, 'pi-7.key');
  ok(await runCli(['user', 'add', 'pi-7', '--role', 'device', '--users', users, '--password', 'pw-1']), 'user add pi-7');
  ok(await runCli(['user', 'add', 'dash', '--role', 'observer', '--users', users, '--password', 'pw-2']), 'user add dash');
  assert.equal(ok(await runCli(['key', 'list', '--users', users]), 'key list (none)'), 'no keys\n');

  // generate: private key 0600, FILE.pub beside it, the public key on stdout.
  const gen = await runCli(['key', 'generate', '--out', keyFile]);
  const pub1 = ok(gen, 'key generate').trim();
  assert.match(pub1, PUB);
  assert.match(gen.stderr, /wrote .*pi-7\.key \(private key, mode 0600\)/);
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600, 'private key mode 0600');
  assert.match(fs.readFileSync(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/);
  assert.equal(fs.readFileSync(`${keyFile}.pub`, 'utf8'), `${pub1}\n`);

  // Refuses to overwrite; --force replaces (a new key).
  const pem1 = fs.readFileSync(keyFile, 'utf8');
  const again = await runCli(['key', 'generate', '--out', keyFile]);
  fails(again, 'generate over an existing key', /HAMSYNC_ERR_FILE.*already exists.*--force/);
  assert.equal(again.stdout, '');
  assert.equal(fs.readFileSync(keyFile, 'utf8'), pem1, 'the old key is untouched');
  assert.equal(fs.readFileSync(`${keyFile}.pub`, 'utf8'), `${pub1}\n`);
  const pub = ok(await runCli(['key', 'generate', '--out', keyFile, '--force']), 'generate --force').trim();
  assert.match(pub, PUB);
  assert.notEqual(pub, pub1, '--force made a new key');
  assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600, 'mode 0600 after --force');
  assert.equal(fs.readFileSync(`${keyFile}.pub`, 'utf8'), `${pub}\n`);
  assert.equal(ok(await runCli(['key', 'show', '--key', keyFile]), 'key show').trim(), pub);

  // set from FILE.pub; list shows it; the users file stays 0600 and loadable.
  assert.match(ok(await runCli(['key', 'set', 'pi-7', '--pub', `@${keyFile}.pub`, '--users', users]), 'key set'), new RegExp(`^set the public key of pi-7: ${pub}\\n$`));
  assert.equal(ok(await runCli(['key', 'list', '--users', users]), 'key list'), `pi-7\tdevice\t${pub}\n`);
  const json = ok(await runCli(['key', 'list', '--users', users, '--json']), 'key list --json');
  assert.deepEqual(JSON.parse(json), { version: 1, keys: { 'pi-7': pub } });
  const keysFile = join(dir, 'keys.json');
  fs.writeFileSync(keysFile, json);
  assert.equal(fs.statSync(users).mode & 0o777, 0o600);
  assert.equal(loadUsers(users).users['pi-7']?.pub, pub);

  // The point of it all: signed with the key file, verified with the users file (and the keys file).
  const privateKey = loadPrivateKey(keyFile);
  const text = JSON.stringify({ lat: 52.52, lon: 13.4 });
  const update: SignedUpdate = { source: 'pi-7', key: 'gps/fix', state: 1700000000000, text, sig: sign(privateKey, 'pi-7', 'gps/fix', 1700000000000, text) };
  for (const ring of [loadKeyring({ users }), loadKeysFile(keysFile), loadKeyring({ users, keys: keysFile })]) {
    assert.deepEqual(checkSignatures([update], ring, { requireSigned: true }), { verified: 1, unchecked: 0 });
    const forged = { ...update, sig: sign(generateSigningKey().privateKey, 'pi-7', 'gps/fix', 1700000000000, text) };
    assert.throws(() => checkSignatures([forged], ring), { code: 'HAMSYNC_ERR_SIGNATURE' });
    assert.throws(() => checkSignatures([{ ...update, sig: undefined }], ring), { code: 'HAMSYNC_ERR_SIGNATURE' });
  }

  // A new password keeps the key; replacing the key says so.
  assert.match(ok(await runCli(['user', 'add', 'pi-7', '--role', 'device', '--users', users, '--password', 'pw-3']), 're-add'), /updated pi-7 \(device, pub /);
  assert.equal(loadUsers(users).users['pi-7']?.pub, pub);
  assert.match(ok(await runCli(['key', 'set', 'pi-7', '--pub', pub1, '--users', users]), 'key set again'), /^replaced the public key of pi-7/);

  // Refusals: unknown user, bad keys (the message names --pub and what it got), a private key as --pub, show on a .pub.
  fails(await runCli(['key', 'set', 'ghost', '--pub', pub, '--users', users]), 'set for an unknown user', /HAMSYNC_ERR_USERS.*no user "ghost"/);
  fails(await runCli(['key', 'set', 'pi-7', '--pub', 'not-a-key', '--users', users]), 'set a bad key', /HAMSYNC_ERR_SIGNING_KEY: --pub must be .*got 9 \("not-a-key"\)/);
  fails(await runCli(['key', 'set', 'pi-7', '--pub', `@${keyFile}`, '--users', users]), 'set a private key', /HAMSYNC_ERR_SIGNING_KEY: --pub .*holds a private key/);
  fails(await runCli(['key', 'show', '--key', `${keyFile}.pub`]), 'show on a public key', /HAMSYNC_ERR_SIGNING_KEY.*got a public key/);
  fails(await runCli(['key', 'show', '--key', join(dir, 'none.key')]), 'show on a missing file', /HAMSYNC_ERR_FILE/);
  fails(await runCli(['user', 'add', 'pi-8', '--role', 'device', '--users', users, '--password', 'x', '--pub', 'short']), 'user add --pub bad', /HAMSYNC_ERR_SIGNING_KEY: --pub/);
  assert.equal(loadUsers(users).users['pi-8'], undefined, 'nothing added on a bad --pub');
  assert.equal(loadUsers(users).users['pi-7']?.pub, pub1, 'failed commands left the key alone');

  // user add --pub inline; key remove; remove again refused.
  assert.match(ok(await runCli(['user', 'add', 'pi-8', '--role', 'device', '--users', users, '--password', 'x', '--pub', pub]), 'user add --pub'), /added pi-8 \(device, pub /);
  ok(await runCli(['key', 'remove', 'pi-7', '--users', users]), 'key remove');
  assert.equal(ok(await runCli(['key', 'list', '--users', users]), 'key list after remove'), `pi-8\tdevice\t${pub}\n`);
  assert.equal(loadUsers(users).users['pi-7']?.pub, undefined);
  fails(await runCli(['key', 'remove', 'pi-7', '--users', users]), 'remove a key that is gone', /HAMSYNC_ERR_USERS.*has no public key/);
  // A hand-edited users file with a bad pub is refused on load, naming the user and field.
  const raw = JSON.parse(fs.readFileSync(users, 'utf8')) as { users: Record<string, { pub?: string }> };
  (raw.users['pi-8'] as { pub?: string }).pub = 'AAAA';
  fs.writeFileSync(users, JSON.stringify(raw));
  fails(await runCli(['key', 'list', '--users', users]), 'bad pub in the users file', /HAMSYNC_ERR_USERS: .*users\.json: user pi-8: pub must be a raw Ed25519 public key/);

  assert.deepEqual(fs.readdirSync(dir).sort(), ['keys.json', 'pi-7.key', 'pi-7.key.pub', 'users.json'], 'no temp files left');
});
