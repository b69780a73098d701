/**
 * Signed updates, phase 2, below the network: the wire field "g" (put, state, catch-up), its form
 * check, the replica keeping each update's signature in live, history, deferred and quarantine
 * rows (and through promotion, release and a credited equal value), export/import keeping it,
 * import verifying only when given keys, the daemon's outbox re-signing and put splitting, the
 * worker pool that verifies off the event loop.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ManualClock } from '../../src/ham/manual-clock.js';
import { canonical } from '../../src/ham/lexical.js';
import { silentLogger } from '../../src/log.js';
import { checkBatch, type CheckedUpdate } from '../../src/model/update.js';
import { putMessages } from '../../src/daemon/daemon.js';
import { loadSigning, resignOutbox, signAll } from '../../src/daemon/signing.js';
import { exportToFile } from '../../src/replay/export.js';
import { importFile } from '../../src/replay/import.js';
import { generateSigningKey, savePrivateKey } from '../../src/sign/key-file.js';
import { Keyring } from '../../src/sign/keyring.js';
import { checkSignatures } from '../../src/sign/policy.js';
import { publicKeyObject } from '../../src/sign/public-key.js';
import { signingBytes } from '../../src/sign/message.js';
import { sign } from '../../src/sign/sign.js';
import { verifyUpdate } from '../../src/sign/verify.js';
import { VerifyPool } from '../../src/sign/verify-pool.js';
import { Replica } from '../../src/sync/replica.js';
import { decodePut, decodeState, decodeSyncResponse, encodePut, encodeState, encodeSyncResponse } from '../../src/wire/codec.js';
import { expectHamsyncError } from '../helpers/errors.js';
import { tempDir } from '../helpers/tmp.js';
import { poll } from '../helpers/wait.js';

const KEY = generateSigningKey();
const OTHER = generateSigningKey();
const T0 = 1_000_000;

function signed(src: string, key: string, state: number, value: unknown, k = KEY): CheckedUpdate {
  const text = canonical(value);
  return { key, state, source: src, text, sig: sign(k.privateKey, src, key, state, text) };
}

test('wire: "g" rides along in put, state and catch-up messages, and is absent when unsigned', () => {
  const a = signed('pi-7', 'pi-7/t', 5, { c: 1, a: [2] });
  const plain: CheckedUpdate = { key: 'pi-7/u', state: 6, source: 'pi-7', text: '"x"' };
  const put = encodePut('pi-7', [a, plain]);
  assert.match(put, new RegExp(`"g":"${a.sig}"`));
  assert.equal((put.match(/"g":/g) ?? []).length, 1, 'only the signed update has "g"');
  const back = decodePut(put, 'pi-7').updates;
  assert.equal(back[0]?.sig, a.sig);
  assert.equal('sig' in (back[1] as object), false, 'no sig property at all for an unsigned update');
  assert.deepEqual(checkBatch(back, { maxKeyBytes: 256, maxKeyDepth: 16, maxValueBytes: 65536, maxBatch: 10000 }), [a, plain]);

  const res = decodeSyncResponse(encodeSyncResponse('id', [a, plain], true));
  assert.equal(res.updates[0]?.sig, a.sig);
  assert.equal(res.updates[0]?.source, 'pi-7');
  assert.equal('sig' in (res.updates[1] as object), false);

  const st = decodeState(encodeState(a.text, a.state, a.source, a.sig), a.key);
  assert.deepEqual(st, { key: a.key, value: { a: [2], c: 1 }, state: 5, source: 'pi-7', sig: a.sig });
  assert.equal(encodeState('1', 2, 'x'), '{"v":1,"s":2,"src":"x"}', 'an unsigned state message is unchanged');
  expectHamsyncError(() => decodeState('{"s":1,"src":"x"}', 'k'), 'HAMSYNC_ERR_PAYLOAD', 'state without v');
});

test('checkUpdate: a present "g" must be 86 canonical base64url characters, whoever the source', () => {
  const limits = { maxKeyBytes: 256, maxKeyDepth: 16, maxValueBytes: 65536, maxBatch: 10000 };
  for (const bad of [null, 7, 'short', `${'A'.repeat(85)}!`, ['x'], {}]) {
    const err = expectHamsyncError(() => checkBatch([{ key: 'k', value: 1, state: 1, source: 'nokey', sig: bad }], limits), 'HAMSYNC_ERR_SIGNATURE', `sig ${JSON.stringify(bad)}`);
    assert.equal(err.details.reason, 'malformed');
    assert.equal(err.details.source, 'nokey');
  }
  const ok = checkBatch([{ key: 'k', value: 1, state: 1, source: 'nokey', sig: signed('nokey', 'k', 1, 1).sig }], limits);
  assert.equal(ok[0]?.sig?.length, 86);
});

test('replica: signatures are stored with live, history, deferred and quarantine rows and survive promotion and release', async (t) => {
  const dir = tempDir(t);
  const clock = new ManualClock(T0);
  const replica = await Replica.open({ dataDir: dir, clock, maxFutureMs: 10_000 });
  try {
    const now = signed('pi-7', 'a', T0 - 10, 'now');
    const later = signed('pi-7', 'b', T0 + 1000, 'later');
    const beyond = signed('pi-7', 'c', T0 + 60_000, 'beyond');
    const old = signed('pi-7', 'a', T0 - 20, 'old');
    const r = replica.receiveChecked([now, later, beyond, old]);
    assert.deepEqual(r.results.map((x) => x.decision), ['apply', 'defer', 'quarantine', 'historical']);
    await r.durable;
    assert.equal(replica.get('a')?.sig, now.sig);
    assert.deepEqual(replica.history('a').map((h) => h.sig), [old.sig, now.sig]);
    assert.equal(replica.deferred()[0]?.sig, later.sig);
    assert.equal(replica.quarantined()[0]?.sig, beyond.sig);

    // Promotion: the deferred row becomes live with its signature; the change event carries it.
    const changes: { key: string; sig?: string }[] = [];
    replica.on('change', (c) => changes.push({ key: c.key, sig: c.sig }));
    clock.advance(2000);
    await replica.flushed();
    await poll(() => changes.length > 0, { timeoutMs: 2000, intervalMs: 20 });
    assert.equal(replica.get('b')?.sig, later.sig);
    assert.deepEqual(changes, [{ key: 'b', sig: later.sig }]);

    // Release: the quarantined row keeps its signature on its way through HAM; the audit log has it.
    clock.advance(60_000);
    await replica.releaseQuarantined({ all: true });
    assert.equal(replica.get('c')?.sig, beyond.sig);
    assert.equal(replica.quarantineLogEntries()[0]?.sig, beyond.sig);

    // Unsigned updates keep the old row shape: no sig at all.
    await replica.receive([{ key: 'd', value: 1, state: T0, source: 'old-device' }]).durable;
    assert.equal('sig' in (replica.get('d') as object), false);

    // An equal value from a greater source is credited to it, with its signature.
    const tieA = signed('aaa', 'e', T0, 'same', OTHER);
    const tieZ = signed('zzz', 'e', T0, 'same');
    await replica.receiveChecked([tieA]).durable;
    await replica.receiveChecked([tieZ]).durable;
    assert.deepEqual([replica.get('e')?.source, replica.get('e')?.sig], ['zzz', tieZ.sig]);
    const e = replica.get('e');
    assert.ok(e && e.sig !== undefined && verifyUpdate(publicKeyObject(KEY.pub), e.source, e.key, e.state, canonical(e.value), e.sig), 'the live row verifies against its source');
  } finally {
    await replica.close();
  }
});

test('export/import keep "g"; import verifies only when given keys, naming the line', async (t) => {
  const dir = tempDir(t);
  const src = join(dir, 'src');
  const replica = await Replica.open({ dataDir: src, clock: new ManualClock(T0) });
  const a = signed('pi-7', 'a', T0 - 5, 1);
  const b = signed('pi-7', 'b', T0 + 5000, 2);
  await replica.receiveChecked([a, b, { key: 'c', text: '3', state: T0 - 1, source: 'legacy' }]).durable;
  await replica.close();
  const file = join(dir, 'x.ndjson');
  await exportToFile(src, file);
  const lines = fs.readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(lines.filter((l) => l.includes(`"g":"${a.sig}"`)).length, 2, 'live and history rows of a');
  assert.equal(lines.filter((l) => l.includes(`"g":"${b.sig}"`)).length, 1, 'the deferred row of b');
  assert.equal(lines.filter((l) => l.includes('"src":"legacy"') && l.includes('"g"')).length, 0);

  const dst = join(dir, 'dst');
  const keyring = new Keyring([['pi-7', KEY.pub]]);
  await importFile(file, { dataDir: dst, clock: new ManualClock(T0), signatures: { keyring } });
  const back = await Replica.open({ dataDir: dst, clock: new ManualClock(T0) });
  try {
    assert.equal(back.get('a')?.sig, a.sig);
    assert.equal(back.deferred()[0]?.sig, b.sig);
    assert.equal('sig' in (back.get('c') as object), false);
  } finally {
    await back.close();
  }

  // Tamper with a's value in its history row: refused with the line, nothing imported...
  const tampered = join(dir, 'tampered.ndjson');
  const n = lines.findIndex((l) => l.startsWith('{"t":"history"') && l.includes(`"g":"${a.sig}"`));
  const edited = [...lines];
  edited[n] = (edited[n] as string).replace('"v":1', '"v":100');
  fs.writeFileSync(tampered, `${edited.join('\n')}\n`);
  const refusedDir = join(dir, 'refused');
  await assert.rejects(importFile(tampered, { dataDir: refusedDir, signatures: { keyring } }), (err: Error & { code?: string; details?: { line?: number } }) => {
    assert.equal(err.code, 'HAMSYNC_ERR_SIGNATURE');
    assert.equal(err.details?.line, n + 1);
    assert.match(err.message, new RegExp(`tampered\\.ndjson:${n + 1}: .*does not verify.*nothing was imported`));
    return true;
  });
  assert.equal(fs.existsSync(refusedDir), false, 'nothing was created');
  // ...and requireSigned refuses the unsigned "legacy" row.
  await assert.rejects(importFile(file, { dataDir: refusedDir, signatures: { keyring, requireSigned: true } }), /HAMSYNC_ERR_SIGNATURE: .*source "legacy".*no known public key/);
  // Without keys an import trusts the file: the tampered row goes in, its signature kept as is.
  const trusting = join(dir, 'trusting');
  await importFile(tampered, { dataDir: trusting, clock: new ManualClock(T0) });
  const r = await Replica.open({ dataDir: trusting, clock: new ManualClock(T0) });
  try {
    const row = r.history('a').find((h) => h.value === 100);
    assert.ok(row);
    assert.equal(row.sig, a.sig, 'kept, unverified');
    assert.throws(() => checkSignatures([{ source: 'pi-7', key: 'a', state: row.state, text: '100', sig: row.sig }], keyring), /HAMSYNC_ERR_SIGNATURE/, 'and a peer with the key would refuse it');
  } finally {
    await r.close();
  }
});

test('daemon: outbox messages are re-signed when the signing key changes (or appears), once', async (t) => {
  const dir = tempDir(t);
  const replica = await Replica.open({ dataDir: dir, clock: new ManualClock(T0) });
  try {
    const outbox = replica.outbox();
    outbox.append(encodePut('pi-7', [{ key: 'pi-7/a', state: 1, text: '{"x":1}' }, { key: 'pi-7/b', state: 2, text: '"y"' }]), 2);
    outbox.append(encodePut('pi-7', [signed('pi-7', 'pi-7/c', 3, 3, OTHER)]), 1);
    await replica.flushed();
    const keyFile = join(dir, 'pi-7.key');
    savePrivateKey(keyFile, KEY.privateKey);
    const signing = loadSigning({ id: 'pi-7', signingKey: keyFile, keys: undefined, users: undefined, requireSigned: false });
    assert.equal(signing.signer?.pub, KEY.pub);
    assert.equal(await resignOutbox(outbox, 'pi-7', signing.signer, silentLogger), 2);
    const ring = new Keyring([['pi-7', KEY.pub]]);
    const entries = [...outbox.entries()];
    assert.deepEqual(entries.map((e) => e.count), [2, 1]);
    for (const e of entries) {
      const checked = checkBatch(decodePut(e.payload, 'pi-7').updates, replica.limits);
      assert.equal(checkSignatures(checked, ring).verified, checked.length, `entry ${e.seq} verifies with the current key`);
    }
    assert.equal(checkBatch(decodePut(entries[0]?.payload as string, 'pi-7').updates, replica.limits)[0]?.text, '{"x":1}');
    assert.equal(await resignOutbox(outbox, 'pi-7', signing.signer, silentLogger), 0, 'nothing to do the second time');
    // Running without a key clears the mark, so a later start with the key re-signs what was queued meanwhile.
    await resignOutbox(outbox, 'pi-7', undefined, silentLogger);
    assert.equal(outbox.signer, undefined);
    assert.equal(await resignOutbox(outbox, 'pi-7', signing.signer, silentLogger), 2);
  } finally {
    await replica.close();
  }
});

test('daemon: a keyring that has another key for the device itself is refused at start', (t) => {
  const dir = tempDir(t);
  const keyFile = join(dir, 'pi-7.key');
  savePrivateKey(keyFile, KEY.privateKey);
  const keys = join(dir, 'keys.json');
  fs.writeFileSync(keys, JSON.stringify({ version: 1, keys: { 'pi-7': OTHER.pub } }));
  const err = expectHamsyncError(() => loadSigning({ id: 'pi-7', signingKey: keyFile, keys, users: undefined, requireSigned: false }), 'HAMSYNC_ERR_SIGNING_KEY', 'mismatch');
  assert.match(err.message, /peers would refuse/);
});

test('daemon: a local batch whose signed payload would be over the broker limit goes as several messages, in order', () => {
  const updates = signAll(
    { privateKey: KEY.privateKey, pub: KEY.pub },
    Array.from({ length: 3000 }, (_, i) => ({ key: `pi-7/k${i}`, state: T0 + i, source: 'pi-7', text: String(i) })),
  );
  const limit = 256 * 1024;
  const messages = putMessages('pi-7', updates, limit);
  assert.ok(messages.length >= 2, `split into ${messages.length}`);
  for (const m of messages) assert.ok(Buffer.byteLength(m.payload) <= limit, `${Buffer.byteLength(m.payload)} bytes`);
  const again = messages.flatMap((m) => decodePut(m.payload, 'pi-7').updates);
  assert.equal(again.length, 3000);
  assert.deepEqual(messages.map((m) => m.count).reduce((a, b) => a + b), 3000);
  assert.deepEqual(again.map((u) => u.key), updates.map((u) => u.key));
  assert.deepEqual(again.map((u) => u.sig), updates.map((u) => u.sig));
  assert.equal(putMessages('pi-7', updates.slice(0, 10), limit).length, 1, 'small batches stay one message');
});

test('verify pool: answers in order across workers and chunks; a worker that dies fails its callers, and a new one takes over', async () => {
  const pool = new VerifyPool(2);
  try {
    const items = Array.from({ length: 1000 }, (_, i) => {
      const u = signed('pi-7', `k/${i}`, T0 + i, i);
      const data = signingBytes('pi-7', u.key, u.state, i % 7 === 3 ? '"tampered"' : u.text);
      return { pub: i % 11 === 5 ? OTHER.pub : KEY.pub, data, sig: Buffer.from(u.sig as string, 'base64url') };
    });
    const ok = await pool.verify(items);
    assert.deepEqual(ok, items.map((_, i) => i % 7 !== 3 && i % 11 !== 5));
    assert.deepEqual(await pool.verify([]), []);
    const refused = assert.rejects(pool.verify(items.slice(0, 500)), /verification worker (exited|failed)/);
    await pool.close();
    await refused;
    assert.deepEqual(await pool.verify(items.slice(0, 3)), [true, true, true], 'workers are started again');
  } finally {
    await pool.close();
  }
});
