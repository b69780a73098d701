/**
 * Signed updates (src/sign/): message bytes, sign/verify, malformed signatures, public keys and
 * key files, keyrings, the policy matrix, a seeded property (a mutated update never verifies) and
 * the verification rate. Seeded: HAMSYNC_SEED=<n> reruns a failure.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonical } from '../../src/ham/lexical.js';
import { isHamsyncError } from '../../src/errors.js';
import { parseUsers, saveUsers, type UsersFile } from '../../src/auth/users.js';
import { writeFileAtomic } from '../../src/util/atomic-write.js';
import { generateSigningKey, loadPrivateKey, readPublicKeyArg, savePrivateKey } from '../../src/sign/key-file.js';
import { Keyring, loadKeyring, loadKeysFile, parseKeysFile } from '../../src/sign/keyring.js';
import { SIGNATURE_CONTEXT, signingBytes } from '../../src/sign/message.js';
import { checkSignatures, checkSignaturesAsync, type SignaturePolicy, type SignedUpdate } from '../../src/sign/policy.js';
import { PUBLIC_KEY_CHARS, assertPublicKey, encodePublicKey, publicKeyObject } from '../../src/sign/public-key.js';
import { sign } from '../../src/sign/sign.js';
import { SIGNATURE_CHARS, verifyUpdate } from '../../src/sign/verify.js';
import { expectHamsyncError } from '../helpers/errors.js';
import { seedFromEnv } from '../helpers/seed.js';
import { tempDir } from '../helpers/tmp.js';

const A = generateSigningKey();
const B = generateSigningKey();
const A_PUB = publicKeyObject(A.pub);

function signed(privateKey: KeyObject, source: string, key: string, state: number, value: unknown): SignedUpdate {
  const text = canonical(value);
  return { source, key, state, text, sig: sign(privateKey, source, key, state, text) };
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The same base64url with the lowest (unused) bit of its last character set: decodes to the same bytes. */
function strayLowBit(s: string): string {
  return s.slice(0, -1) + B64URL[B64URL.indexOf(s.slice(-1)) | 1];
}

/** Asserts that the async check rejects with HAMSYNC_ERR_SIGNATURE; returns the error. */
async function expectAsyncRefusal(p: Promise<unknown>, label: string): Promise<{ details: Record<string, unknown>; message: string }> {
  try {
    await p;
  } catch (err) {
    assert.ok(isHamsyncError(err, 'HAMSYNC_ERR_SIGNATURE'), `${label}: expected HAMSYNC_ERR_SIGNATURE, got ${String(err)}`);
    return err as { details: Record<string, unknown>; message: string };
  }
  assert.fail(`${label}: expected HAMSYNC_ERR_SIGNATURE, but the batch was accepted`);
}

test('signing bytes: the UTF-8 of JSON.stringify(["hamsync-sig/1", src, key, state, text])', () => {
  const bytes = signingBytes('pi-7', 'gps/fix', 1700000000000.5, '{"lat":1,"é":"x"}');
  assert.equal(SIGNATURE_CONTEXT, 'hamsync-sig/1');
  assert.deepEqual(bytes, Buffer.from('["hamsync-sig/1","pi-7","gps/fix",1700000000000.5,"{\\"lat\\":1,\\"é\\":\\"x\\"}"]', 'utf8'));
  // -0 and 0 are one state (as checkUpdate stores them), so they sign alike.
  assert.deepEqual(signingBytes('a', 'k', -0, '1'), signingBytes('a', 'k', 0, '1'));
});

test('sign/verify round trip; any change of src, key, state or value text, or another key, fails', () => {
  const u = signed(A.privateKey, 'pi-7', 'gps/fix', 1700000000123, { lat: 52.5, lon: 13.4 });
  assert.equal(typeof u.sig, 'string');
  assert.equal((u.sig as string).length, SIGNATURE_CHARS);
  assert.match(u.sig as string, /^[A-Za-z0-9_-]{86}$/);
  assert.equal(verifyUpdate(A_PUB, u.source, u.key, u.state, u.text, u.sig), true);
  const changes: [string, Parameters<typeof verifyUpdate>][] = [
    ['src', [A_PUB, 'pi-8', u.key, u.state, u.text, u.sig]],
    ['key', [A_PUB, u.source, 'gps/fix2', u.state, u.text, u.sig]],
    ['state +1', [A_PUB, u.source, u.key, u.state + 1, u.text, u.sig]],
    ['state -1e-3', [A_PUB, u.source, u.key, u.state - 0.001, u.text, u.sig]],
    ['text', [A_PUB, u.source, u.key, u.state, '{"lat":52.5,"lon":13.5}', u.sig]],
    ['text spacing', [A_PUB, u.source, u.key, u.state, '{"lat":52.5, "lon":13.4}', u.sig]],
    ['another public key', [publicKeyObject(B.pub), u.source, u.key, u.state, u.text, u.sig]],
    ['another update\'s signature', [A_PUB, u.source, u.key, u.state, u.text, signed(A.privateKey, 'pi-7', 'gps/fix', 1, 1).sig]],
  ];
  for (const [what, args] of changes) assert.equal(verifyUpdate(...args), false, what);
  // Signed with B, checked against A's key in the keyring: refused.
  const forged = signed(B.privateKey, 'pi-7', 'gps/fix', 5, 'x');
  const err = expectHamsyncError(() => checkSignatures([forged], new Keyring([['pi-7', A.pub]])), 'HAMSYNC_ERR_SIGNATURE', 'wrong key');
  assert.equal(err.details.reason, 'invalid');
  // sign refuses a non-finite state and a key that is not an Ed25519 private key.
  expectHamsyncError(() => sign(A.privateKey, 'a', 'k', Number.NaN, '1'), 'HAMSYNC_ERR_STATE', 'NaN state');
  expectHamsyncError(() => sign(A_PUB, 'a', 'k', 1, '1'), 'HAMSYNC_ERR_SIGNING_KEY', 'public key to sign');
  expectHamsyncError(() => sign(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'a', 'k', 1, '1'), 'HAMSYNC_ERR_SIGNING_KEY', 'EC key');
});

test('malformed signatures: verifyUpdate is false and the policy refuses with the code, never another throw', async () => {
  const u = signed(A.privateKey, 'pi-7', 'k', 10, [1, 2]);
  const sig = u.sig as string;
  const bytes = Buffer.from(sig, 'base64url');
  const lastBits = strayLowBit(sig);
  assert.deepEqual(Buffer.from(lastBits, 'base64url'), bytes, 'Node decodes the non-canonical spelling to the same bytes');
  const malformed: [string, unknown][] = [
    ['85 characters', sig.slice(0, 85)],
    ['87 characters', `${sig}A`],
    ['padded', `${sig}==`],
    ['standard base64 alphabet', bytes.toString('base64').replace(/=+$/, '').replace(/[A-Za-z0-9]/, '+')],
    ['a space', `${sig.slice(0, 40)} ${sig.slice(41)}`],
    ['non-canonical last character', lastBits],
    ['63 bytes', bytes.subarray(0, 63).toString('base64url')],
    ['65 bytes', Buffer.concat([bytes, Buffer.of(0)]).toString('base64url')],
    ['empty', ''],
    ['a number', 12345],
    ['null', null],
    ['an object', { sig }],
    ['an array', [sig]],
    ['a Buffer', bytes],
  ];
  const ring = new Keyring([['pi-7', A.pub]]);
  for (const [what, bad] of malformed) {
    assert.equal(verifyUpdate(A_PUB, u.source, u.key, u.state, u.text, bad), false, what);
    const err = expectHamsyncError(() => checkSignatures([{ ...u, sig: bad }], ring), 'HAMSYNC_ERR_SIGNATURE', what);
    assert.equal(err.details.reason, 'malformed', what);
    assert.match(err.message, /signature is malformed/, what);
    const aerr = await expectAsyncRefusal(checkSignaturesAsync([{ ...u, sig: bad }], ring), what);
    assert.equal(aerr.details.reason, 'malformed', what);
  }
  // A well-formed signature of zeros (and a non-finite state) is false, not a throw.
  assert.equal(verifyUpdate(A_PUB, u.source, u.key, u.state, u.text, Buffer.alloc(64).toString('base64url')), false);
  assert.equal(verifyUpdate(A_PUB, u.source, u.key, Number.POSITIVE_INFINITY, u.text, sig), false);
});

test('policy matrix: key known/unknown x signed/unsigned/bad/malformed x requireSigned', async () => {
  const ring = new Keyring([['pi-7', A.pub]]);
  const kinds = {
    signed: (src: string) => signed(A.privateKey, src, 'k', 3, 'v'),
    unsigned: (src: string): SignedUpdate => ({ source: src, key: 'k', state: 3, text: '"v"' }),
    bad: (src: string) => ({ ...signed(B.privateKey, src, 'k', 3, 'v') }),
    malformed: (src: string): SignedUpdate => ({ source: src, key: 'k', state: 3, text: '"v"', sig: 'nope' }),
  };
  // Expected: 'verified' | 'unchecked' | a refusal reason.
  const expected: Record<string, Record<keyof typeof kinds, [string, string]>> = {
    known: { signed: ['verified', 'verified'], unsigned: ['missing', 'missing'], bad: ['invalid', 'invalid'], malformed: ['malformed', 'malformed'] },
    unknown: { signed: ['unchecked', 'unknown-source'], unsigned: ['unchecked', 'unknown-source'], bad: ['unchecked', 'unknown-source'], malformed: ['unchecked', 'unknown-source'] },
  };
  let cases = 0;
  for (const [knownness, src] of [['known', 'pi-7'], ['unknown', 'pi-9']] as const) {
    for (const kind of Object.keys(kinds) as (keyof typeof kinds)[]) {
      for (const [i, requireSigned] of [false, true].entries()) {
        const want = expected[knownness]?.[kind][i] as string;
        const batch = [kinds[kind](src)];
        const policy: SignaturePolicy = { requireSigned };
        const label = `${knownness} source, ${kind}, requireSigned=${String(requireSigned)}`;
        if (want === 'verified' || want === 'unchecked') {
          const tally = checkSignatures(batch, ring, policy);
          assert.deepEqual(tally, { verified: want === 'verified' ? 1 : 0, unchecked: want === 'unchecked' ? 1 : 0 }, label);
          assert.deepEqual(await checkSignaturesAsync(batch, ring, policy), tally, `${label} (async)`);
        } else {
          const err = expectHamsyncError(() => checkSignatures(batch, ring, policy), 'HAMSYNC_ERR_SIGNATURE', label);
          assert.equal(err.details.reason, want, label);
          assert.equal((await expectAsyncRefusal(checkSignaturesAsync(batch, ring, policy), label)).details.reason, want, `${label} (async)`);
        }
        cases++;
      }
    }
  }
  assert.equal(cases, 16);
  // Default policy: requireSigned false; an empty keyring accepts anything unsigned.
  assert.deepEqual(checkSignatures([kinds.unsigned('x')], new Keyring()), { verified: 0, unchecked: 1 });
});

test('a batch fails as a whole, naming the first bad update (sync and async agree)', async () => {
  const ring = new Keyring([['pi-7', A.pub], ['pi-8', B.pub]]);
  const ok7 = signed(A.privateKey, 'pi-7', 'a', 1, 1);
  const ok8 = signed(B.privateKey, 'pi-8', 'b', 2, 2);
  const free: SignedUpdate = { source: 'other', key: 'c', state: 3, text: '3' };
  const invalid = { ...signed(A.privateKey, 'pi-8', 'bad/key', 4, 4) };
  const missing: SignedUpdate = { source: 'pi-7', key: 'm', state: 5, text: '5' };
  const cases: [string, SignedUpdate[], number, string, string][] = [
    ['invalid at 3, missing at 4', [ok7, ok8, free, invalid, missing], 3, 'invalid', 'bad/key'],
    ['missing at 1, invalid at 2', [ok7, missing, invalid], 1, 'missing', 'm'],
    ['invalid at 0, missing at 1', [invalid, missing, ok7], 0, 'invalid', 'bad/key'],
  ];
  for (const [label, batch, index, reason, key] of cases) {
    const err = expectHamsyncError(() => checkSignatures(batch, ring), 'HAMSYNC_ERR_SIGNATURE', label);
    assert.deepEqual({ index: err.details.index, reason: err.details.reason, key: err.details.key }, { index, reason, key }, label);
    assert.match(err.message, new RegExp(`^HAMSYNC_ERR_SIGNATURE: update ${index} \\(key "${key}", source "pi-[78]"\\) .*; the batch of ${batch.length} is refused$`), label);
    const aerr = await expectAsyncRefusal(checkSignaturesAsync(batch, ring), label);
    assert.deepEqual({ index: aerr.details.index, reason: aerr.details.reason, key: aerr.details.key }, { index, reason, key }, `${label} (async)`);
  }
  assert.deepEqual(checkSignatures([ok7, ok8, free], ring), { verified: 2, unchecked: 1 });
  assert.deepEqual(await checkSignaturesAsync([ok7, ok8, free], ring), { verified: 2, unchecked: 1 });
  assert.deepEqual(checkSignatures([], ring), { verified: 0, unchecked: 0 });
});

test('property (seeded): a signature never verifies for a mutated update', () => {
  const seed = seedFromEnv(20260611);
  const runs = Number(process.env.HAMSYNC_RUNS ?? 300);
  const srcArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/);
  const stateArb = fc.double({ noNaN: true, noDefaultInfinity: true });
  const textArb = fc.jsonValue({ maxDepth: 3 }).map((v) => canonical(v));
  const updateArb = fc.record({ source: srcArb, key: fc.string({ minLength: 1, maxLength: 40 }), state: stateArb, text: textArb });
  type Mutation = { field: 'source' | 'key' | 'text'; to: string } | { field: 'state'; to: number } | { field: 'sig'; bit: number };
  const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
    srcArb.map((to) => ({ field: 'source' as const, to })),
    fc.string({ minLength: 1, maxLength: 40 }).map((to) => ({ field: 'key' as const, to })),
    stateArb.map((to) => ({ field: 'state' as const, to })),
    textArb.map((to) => ({ field: 'text' as const, to })),
    fc.nat({ max: 511 }).map((bit) => ({ field: 'sig' as const, bit })),
  );
  try {
    fc.assert(
      fc.property(updateArb, mutationArb, (u, m) => {
        const sig = sign(A.privateKey, u.source, u.key, u.state, u.text);
        assert.ok(verifyUpdate(A_PUB, u.source, u.key, u.state, u.text, sig), 'the original verifies');
        const v = { ...u, sig };
        if (m.field === 'sig') {
          const bytes = Buffer.from(sig, 'base64url');
          bytes[m.bit >> 3] = (bytes[m.bit >> 3] as number) ^ (1 << (m.bit & 7));
          v.sig = bytes.toString('base64url');
        } else if (m.field === 'state') {
          fc.pre(JSON.stringify(m.to) !== JSON.stringify(u.state));
          v.state = m.to;
        } else {
          fc.pre(m.to !== u[m.field]);
          v[m.field] = m.to;
        }
        assert.equal(verifyUpdate(A_PUB, v.source, v.key, v.state, v.text, v.sig), false, `mutated ${m.field} still verifies`);
        // Through the policy, with A's key for both the original and the mutated source: refused.
        const ring = new Keyring([[u.source, A.pub], [v.source, A.pub]]);
        const err = expectHamsyncError(() => checkSignatures([v], ring), 'HAMSYNC_ERR_SIGNATURE', `policy, mutated ${m.field}`);
        assert.equal(err.details.reason, 'invalid');
      }),
      { seed, numRuns: runs },
    );
  } catch (err) {
    console.error(`signature property failed with seed ${seed} (rerun: HAMSYNC_SEED=${seed} node --test dist/test/security/sign.test.js)`);
    throw err;
  }
});

test('public keys: 43 canonical base64url characters of 32 bytes; errors name the field and what they got', () => {
  assert.equal(PUBLIC_KEY_CHARS, 43);
  assert.equal(A.pub.length, 43);
  assert.equal(encodePublicKey(A.privateKey), A.pub);
  assert.equal(encodePublicKey(A_PUB), A.pub);
  const bad: [string, unknown, RegExp][] = [
    ['short', A.pub.slice(0, 42), /--pub must be a raw Ed25519 public key as 43 base64url characters: must be 43 base64url characters, got 42/],
    ['padded', `${A.pub}=`, /got 44/],
    ['standard alphabet', `+${A.pub.slice(1)}`, /other characters/],
    ['non-canonical', strayLowBit(A.pub), /not canonical/],
    ['a number', 7, /got number/],
    ['PEM', '-----BEGIN PUBLIC KEY-----', /got 26/],
  ];
  for (const [what, value, re] of bad) {
    const err = expectHamsyncError(() => assertPublicKey(value, '--pub'), 'HAMSYNC_ERR_SIGNING_KEY', what);
    assert.match(err.message, re, what);
  }
  assert.notEqual(strayLowBit(A.pub), A.pub);
  assert.deepEqual(Buffer.from(strayLowBit(A.pub), 'base64url'), Buffer.from(A.pub, 'base64url'));
});

test('key files: PEM 0600 + FILE.pub, refuse to overwrite without force, load checks the kind of key', (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'dev.key');
  const saved = savePrivateKey(file, A.privateKey);
  assert.deepEqual(saved, { file, pubFile: `${file}.pub`, pub: A.pub });
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.match(fs.readFileSync(file, 'utf8'), /^-----BEGIN PRIVATE KEY-----\n/);
  assert.equal(fs.readFileSync(`${file}.pub`, 'utf8'), `${A.pub}\n`);
  assert.equal(encodePublicKey(loadPrivateKey(file)), A.pub);

  const before = fs.readFileSync(file, 'utf8');
  const err = expectHamsyncError(() => savePrivateKey(file, B.privateKey), 'HAMSYNC_ERR_FILE', 'overwrite');
  assert.match(err.message, /already exists/);
  assert.equal(fs.readFileSync(file, 'utf8'), before);
  fs.rmSync(`${file}.pub`);
  expectHamsyncError(() => savePrivateKey(file, B.privateKey), 'HAMSYNC_ERR_FILE', 'overwrite with .pub gone');
  assert.ok(!fs.existsSync(`${file}.pub`), 'nothing written when refused');
  savePrivateKey(file, B.privateKey, { force: true });
  assert.equal(encodePublicKey(loadPrivateKey(file)), B.pub);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  assert.equal(fs.readFileSync(`${file}.pub`, 'utf8'), `${B.pub}\n`);

  // Loading: missing, a public key, an EC key, garbage.
  expectHamsyncError(() => loadPrivateKey(join(dir, 'none')), 'HAMSYNC_ERR_FILE', 'missing');
  assert.match(expectHamsyncError(() => loadPrivateKey(`${file}.pub`), 'HAMSYNC_ERR_SIGNING_KEY', '.pub').message, /got a public key/);
  const ec = join(dir, 'ec.pem');
  fs.writeFileSync(ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }));
  assert.match(expectHamsyncError(() => loadPrivateKey(ec), 'HAMSYNC_ERR_SIGNING_KEY', 'EC').message, /expected an Ed25519 private key, got ec/);
  const junk = join(dir, 'junk.pem');
  fs.writeFileSync(junk, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
  expectHamsyncError(() => loadPrivateKey(junk), 'HAMSYNC_ERR_SIGNING_KEY', 'junk');

  // --pub arguments: inline, @FILE.pub, @PEM public key, @private key refused, @missing.
  assert.equal(readPublicKeyArg(B.pub), B.pub);
  assert.equal(readPublicKeyArg(`@${file}.pub`), B.pub);
  const spki = join(dir, 'pub.pem');
  fs.writeFileSync(spki, A_PUB.export({ format: 'pem', type: 'spki' }));
  assert.equal(readPublicKeyArg(`@${spki}`), A.pub);
  assert.match(expectHamsyncError(() => readPublicKeyArg(`@${file}`), 'HAMSYNC_ERR_SIGNING_KEY', '@private').message, /holds a private key/);
  expectHamsyncError(() => readPublicKeyArg(`@${join(dir, 'none')}`), 'HAMSYNC_ERR_FILE', '@missing');
  assert.match(expectHamsyncError(() => readPublicKeyArg('xyz', '--pub'), 'HAMSYNC_ERR_SIGNING_KEY', 'inline junk').message, /--pub must be .* got 3 \("xyz"\)/);

  // The atomic writer itself: no overwrite means EEXIST and the old content; no temp files left.
  writeFileAtomic(join(dir, 'w'), 'one', { overwrite: false });
  assert.throws(() => writeFileAtomic(join(dir, 'w'), 'two', { overwrite: false }), { code: 'EEXIST' });
  assert.equal(fs.readFileSync(join(dir, 'w'), 'utf8'), 'one');
  assert.deepEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

test('users file: optional pub, checked on load; keyrings from users and keys files', (t) => {
  const dir = tempDir(t);
  const rec = { role: 'device', salt: Buffer.alloc(16, 1).toString('base64'), hash: Buffer.alloc(32, 2).toString('base64') };
  const users = parseUsers({ version: 1, users: { 'pi-7': { ...rec, pub: A.pub }, 'pi-8': rec } }, 'u.json');
  assert.equal(users.users['pi-7']?.pub, A.pub);
  assert.equal(users.users['pi-8']?.pub, undefined);
  for (const [what, pub, re] of [
    ['short', 'abc', /u\.json: user pi-7: pub must be a raw Ed25519 public key .* got 3 \("abc"\)/],
    ['number', 5, /u\.json: user pi-7: pub .* got number/],
    ['null', null, /got null/],
  ] as const) {
    const err = expectHamsyncError(() => parseUsers({ version: 1, users: { 'pi-7': { ...rec, pub } } }, 'u.json'), 'HAMSYNC_ERR_USERS', what);
    assert.match(err.message, re, what);
  }

  const ring = Keyring.fromUsers(users);
  assert.equal(ring.size, 1);
  assert.ok(ring.has('pi-7') && !ring.has('pi-8'));
  assert.equal(ring.keyObject('pi-7'), ring.keyObject('pi-7'), 'KeyObjects are cached per source');
  assert.equal(ring.keyObject('pi-8'), undefined);
  assert.deepEqual(ring.toJSON(), { version: 1, keys: { 'pi-7': A.pub } });

  const usersFile = join(dir, 'users.json');
  saveUsers(usersFile, users as UsersFile);
  const keysFile = join(dir, 'keys.json');
  fs.writeFileSync(keysFile, JSON.stringify({ version: 1, keys: { 'pi-9': B.pub, 'pi-7': A.pub } }));
  assert.deepEqual(loadKeysFile(keysFile).toJSON(), { version: 1, keys: { 'pi-7': A.pub, 'pi-9': B.pub } });
  assert.deepEqual(loadKeyring({ users: usersFile, keys: keysFile }).toJSON(), { version: 1, keys: { 'pi-7': A.pub, 'pi-9': B.pub } });
  assert.equal(loadKeyring({ users: usersFile }).size, 1);
  fs.writeFileSync(keysFile, JSON.stringify({ version: 1, keys: { 'pi-7': B.pub } }));
  assert.match(expectHamsyncError(() => loadKeyring({ users: usersFile, keys: keysFile }), 'HAMSYNC_ERR_SIGNING_KEY', 'conflict').message, /two different public keys for pi-7/);

  for (const [what, data, re] of [
    ['not an object', [], /k\.json: must be a JSON object/],
    ['version', { version: 2, keys: {} }, /version must be 1, got 2/],
    ['keys', { version: 1, keys: 'x' }, /"keys" must be an object .* got "x"/],
    ['bad id', { version: 1, keys: { 'a b': A.pub } }, /source id "a b"/],
    ['bad key', { version: 1, keys: { a: 'short' } }, /k\.json: key of a must be a raw Ed25519 public key .* got 5/],
  ] as const) {
    assert.match(expectHamsyncError(() => parseKeysFile(data, 'k.json'), 'HAMSYNC_ERR_SIGNING_KEY', what).message, re, what);
  }
  fs.writeFileSync(keysFile, '{');
  assert.match(expectHamsyncError(() => loadKeysFile(keysFile), 'HAMSYNC_ERR_SIGNING_KEY', 'bad JSON').message, /not valid JSON/);
  expectHamsyncError(() => loadKeysFile(join(dir, 'none.json')), 'HAMSYNC_ERR_FILE', 'missing keys file');
});

test('verification rate: cached KeyObjects, sync and on the thread pool', { timeout: 60_000 }, async (t) => {
  const N = 2000;
  const ring = new Keyring([['pi-7', A.pub]]);
  const batch = Array.from({ length: N }, (_, i) => signed(A.privateKey, 'pi-7', `telemetry/${i % 50}`, 1700000000000 + i, { t: 20 + (i % 7), i }));
  checkSignatures(batch.slice(0, 100), ring); // warm up
  let t0 = performance.now();
  assert.deepEqual(checkSignatures(batch, ring), { verified: N, unchecked: 0 });
  const syncRate = N / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  assert.deepEqual(await checkSignaturesAsync(batch, ring), { verified: N, unchecked: 0 });
  const asyncRate = N / ((performance.now() - t0) / 1000);
  // The cost a cache avoids: a fresh KeyObject per update.
  const few = batch.slice(0, 500);
  t0 = performance.now();
  for (const u of few) assert.ok(verifyUpdate(publicKeyObject(A.pub), u.source, u.key, u.state, u.text, u.sig));
  const uncachedRate = few.length / ((performance.now() - t0) / 1000);
  t.diagnostic(`verifications/s: sync ${Math.round(syncRate)}, thread pool ${Math.round(asyncRate)}, sync without the KeyObject cache ${Math.round(uncachedRate)}`);
  assert.ok(syncRate > 500 && asyncRate > 500, `verification is far too slow: ${Math.round(syncRate)}/s sync, ${Math.round(asyncRate)}/s async`);
});
