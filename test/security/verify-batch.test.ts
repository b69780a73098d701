/**
 * Signature verification in batches (src/sign/verify-pool.ts): concurrent calls share worker
 * messages and each gets its own answers, in order; a forged update refuses exactly its put; a
 * worker that dies mid-batch fails the puts it held (no PUBACK) and the pool carries on; the
 * queue bound refuses with HAMSYNC_ERR_VERIFY_FULL.
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import type { Client, PublishPacket } from 'aedes';
import { PutVerify } from '../../broker/put-verify.js';
import type { PutCommit } from '../../broker/put-commit.js';
import type { Ack, Refusals } from '../../broker/refusals.js';
import { createContext } from '../../src/context.js';
import { isHamsyncError, type HamsyncError } from '../../src/errors.js';
import { canonical } from '../../src/ham/lexical.js';
import type { CheckedUpdate } from '../../src/model/update.js';
import { generateSigningKey, type SigningKey } from '../../src/sign/key-file.js';
import { Keyring } from '../../src/sign/keyring.js';
import { signingBytes } from '../../src/sign/message.js';
import { sign } from '../../src/sign/sign.js';
import { VerifyPool, type VerifyItem } from '../../src/sign/verify-pool.js';
import { prng, randomSeed, seedFromEnv } from '../helpers/seed.js';
import { until } from '../helpers/wait.js';

const KEY = generateSigningKey();
const OTHER = generateSigningKey();
const DOOM = generateSigningKey();
const T0 = 1_700_000_000_000;

function update(src: string, i: number, k: SigningKey, forged = false): CheckedUpdate {
  const text = canonical({ i });
  const u = { key: `${src}/k${i}`, state: T0 + i, source: src, text };
  return { ...u, sig: sign(k.privateKey, src, u.key, u.state, forged ? canonical({ i: -1 }) : text) };
}

function item(i: number, bad: 'no' | 'data' | 'key'): VerifyItem {
  const u = update('pi-7', i, KEY);
  const data = signingBytes('pi-7', u.key, u.state, bad === 'data' ? '"tampered"' : u.text);
  return { pub: bad === 'key' ? OTHER.pub : KEY.pub, data, sig: Buffer.from(u.sig as string, 'base64url') };
}

/** A PutVerify wired to recording fakes: what was admitted (stored, then acknowledged), refused as a forgery, or failed. */
function harness(pool: VerifyPool, keyring: Keyring) {
  const events: string[] = [];
  const commit = { admit: (_c: Client | null, p: PublishPacket, _u: CheckedUpdate[], cb: Ack) => (events.push(`admit ${p.topic}`), cb()) } as unknown as PutCommit;
  const refusals = {
    refuseSignature: (_c: Client | null, _d: string, err: HamsyncError, cb: Ack) => (events.push(`forged ${String(err.details.index)}`), cb(new Error(err.message))),
  } as unknown as Refusals;
  const ctx = createContext();
  const verify = new PutVerify(ctx, { keyring, requireSigned: false, pool }, refusals, commit);
  const acks: { put: string; err?: Error }[] = [];
  const put = (name: string, device: string, updates: CheckedUpdate[]): void =>
    verify.verify(null, { topic: name } as PublishPacket, device, updates, (err) => acks.push({ put: name, ...(err ? { err } : {}) }));
  return { events, acks, put, counters: ctx.counters };
}

test('one worker per core, started only when the running ones are busy', async (t) => {
  const pool = new VerifyPool();
  t.after(() => pool.close());
  assert.equal(pool.size, availableParallelism());
  assert.deepEqual(await pool.verify([item(0, 'no')]), [true]);
  assert.deepEqual(await pool.verify([item(1, 'no'), item(2, 'key')]), [true, false]);
  assert.equal(pool.workers, 1, 'light traffic keeps one worker');
  const big = Array.from({ length: 600 }, (_, i) => item(i, 'no'));
  assert.ok((await pool.verify(big)).every((ok) => ok));
  assert.equal(pool.workers, Math.min(2, pool.size), 'a batch too big for one message spreads over a second worker');
});

test('batching: concurrent calls share worker messages, and every answer lands on its own update, in order', async (t) => {
  const seed = seedFromEnv(randomSeed());
  const rnd = prng(seed);
  const pool = new VerifyPool(2);
  t.after(() => pool.close());
  const calls = Array.from({ length: 40 }, () =>
    Array.from({ length: 1 + Math.floor(rnd() * 150) }, (_, i) => {
      const r = rnd();
      return { i, bad: r < 0.05 ? ('data' as const) : r < 0.1 ? ('key' as const) : ('no' as const) };
    }),
  );
  const answers = await Promise.all(calls.map((c) => pool.verify(c.map((x) => item(x.i, x.bad)))));
  calls.forEach((c, n) => assert.deepEqual(answers[n], c.map((x) => x.bad === 'no'), `call ${n} (seed ${seed}; rerun with HAMSYNC_SEED=${seed})`));
  const items = calls.reduce((a, c) => a + c.length, 0);
  assert.ok(pool.messagesSent < calls.length, `${calls.length} calls (${items} items) took ${pool.messagesSent} worker messages; seed ${seed}`);
  assert.equal(pool.queued, 0);
});

test('batching: one forged update in the middle of a put refuses exactly that put, in its client\'s order', async (t) => {
  const pool = new VerifyPool(2);
  t.after(() => pool.close());
  const h = harness(pool, new Keyring([['pi-7', KEY.pub]]));
  const good = (from: number) => Array.from({ length: 100 }, (_, i) => update('pi-7', from + i, KEY));
  // Index 75: in the second half of the put, which goes to the other worker (puts are spread), and not at a part's edge.
  const forged = good(100).map((u, i) => (i === 75 ? update('pi-7', 175, KEY, true) : u));
  h.put('a', 'pi-7', good(0));
  h.put('b', 'pi-7', forged);
  h.put('c', 'pi-7', good(200));
  await until(() => h.acks.length === 3);
  assert.deepEqual(h.events, ['admit a', 'forged 75', 'admit c']);
  assert.deepEqual(h.acks.map((a) => [a.put, a.err === undefined]), [['a', true], ['b', false], ['c', true]]);
  assert.match(h.acks[1]?.err?.message ?? '', /HAMSYNC_ERR_SIGNATURE: update 75 \(key "pi-7\/k175"/);
  assert.ok(pool.messagesSent <= 2, `3 puts took ${pool.messagesSent} worker messages`);
});

test('a worker that dies mid-batch fails the puts it held (no ack, nothing stored), and the pool carries on', { timeout: 30_000 }, async (t) => {
  const pool = new VerifyPool({ size: 1, worker: new URL('../helpers/crash-verify-worker.js', import.meta.url), workerData: { doom: DOOM.pub } });
  t.after(() => pool.close());
  const h = harness(pool, new Keyring([['pi-7', KEY.pub], ['doomed', DOOM.pub]]));
  const puts = (device: string, k: SigningKey, from: number) => Array.from({ length: 10 }, (_, i) => update(device, from + i, k));
  // One tick: the three puts share the one worker's message, which carries the doomed key.
  h.put('a', 'pi-7', puts('pi-7', KEY, 0));
  h.put('b', 'doomed', puts('doomed', DOOM, 0));
  h.put('c', 'pi-7', puts('pi-7', KEY, 10));
  await until(() => h.acks.length === 3);
  assert.deepEqual(h.events, [], 'nothing admitted, nothing taken for a forgery');
  for (const a of h.acks) assert.match(a.err?.message ?? 'acknowledged', /signature verification worker exited \(7\)/, `put ${a.put}`);
  assert.equal(pool.queued, 0);
  assert.equal(pool.messagesSent, 1);
  assert.equal(h.counters.get('sig.failed'), 3);

  h.put('d', 'pi-7', puts('pi-7', KEY, 20));
  h.put('e', 'pi-7', [...puts('pi-7', KEY, 30), update('pi-7', 40, KEY, true)]);
  await until(() => h.acks.length === 5);
  assert.deepEqual(h.events, ['admit d', 'forged 10'], 'a new worker verifies, and still refuses forgeries');
  assert.equal(pool.workers, 1);
});

test('the queue bound holds: a call past maxQueued is refused at once with HAMSYNC_ERR_VERIFY_FULL; room comes back as answers do', async (t) => {
  const pool = new VerifyPool({ size: 1, maxQueued: 100 });
  t.after(() => pool.close());
  const items = (n: number, from = 0) => Array.from({ length: n }, (_, i) => item(from + i, 'no'));
  const full = (queued: number, n: number) => (err: unknown) =>
    isHamsyncError(err, 'HAMSYNC_ERR_VERIFY_FULL') && err.details.queued === queued && err.details.items === n && err.details.limit === 100 && err.message.includes(`holds ${queued} updates; ${n} more`);
  await assert.rejects(pool.verify(items(101)), full(0, 101), 'one call larger than the bound');
  const first = pool.verify(items(60));
  const second = pool.verify(items(40, 60));
  assert.equal(pool.queued, 100);
  await assert.rejects(pool.verify(items(1, 100)), full(100, 1));
  assert.equal(pool.queued, 100, 'a refused call takes no room');
  assert.deepEqual([...(await first), ...(await second)], Array(100).fill(true));
  assert.equal(pool.queued, 0);
  assert.deepEqual(await pool.verify(items(1, 100)), [true]);

  // At the hub: the put is failed (no PUBACK), neither stored nor taken for a forgery.
  const small = new VerifyPool({ size: 1, maxQueued: 5 });
  t.after(() => small.close());
  const h = harness(small, new Keyring([['pi-7', KEY.pub]]));
  h.put('big', 'pi-7', Array.from({ length: 6 }, (_, i) => update('pi-7', i, KEY)));
  await until(() => h.acks.length === 1);
  assert.deepEqual(h.events, []);
  assert.equal(h.counters.get('rejected.HAMSYNC_ERR_VERIFY_FULL'), 1);
  assert.match(h.acks[0]?.err?.message ?? 'acknowledged', /^HAMSYNC_ERR_VERIFY_FULL: the signature verification queue holds 0 updates; 6 more would pass its limit of 5$/);
});

test('a worker idle for idleMs is stopped, and a later call starts one again', async (t) => {
  const pool = new VerifyPool({ size: 1, idleMs: 50 });
  t.after(() => pool.close());
  assert.deepEqual(await pool.verify([item(1, 'no')]), [true]);
  assert.equal(pool.workers, 1);
  await until(() => pool.workers === 0, { what: 'the idle worker to stop', timeoutMs: 5000 });
  assert.deepEqual(await pool.verify([item(2, 'no'), item(3, 'data')]), [true, false]);
  assert.equal(pool.workers, 1);
  // While it works it is not stopped: a long idleMs keeps it between calls.
  const kept = new VerifyPool({ size: 1 });
  t.after(() => kept.close());
  await kept.verify([item(4, 'no')]);
  assert.equal(kept.idleMs, 30_000);
  assert.equal(kept.workers, 1);
});
