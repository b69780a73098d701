/**
 * Never a partial batch (issue 6): a real Replica (temp dir, manual clock) gets batches mixing
 * valid and fuzzed invalid updates. Either receive() throws a coded HamsyncError and nothing in
 * the store changed (every database compared before and after), or every update is stored
 * exactly as its result says (live, history, deferred, quarantine), with HAM's decisions.
 * Seeded: HAMSYNC_SEED=<n> reruns a failure.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { ERROR_CODES, HamsyncError, type ErrorCode } from '../../src/errors.js';
import { hamCanonical } from '../../src/ham/decide.js';
import { ManualClock } from '../../src/ham/manual-clock.js';
import { MAX_STORABLE_KEY_BYTES } from '../../src/model/keys.js';
import type { Limits } from '../../src/model/limits.js';
import { checkBatch, type CheckedUpdate } from '../../src/model/update.js';
import type { Store } from '../../src/store/open.js';
import { Replica } from '../../src/sync/replica.js';
import { seedFromEnv } from '../helpers/seed.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const SEED = seedFromEnv(0xba7c4);
const FILE = 'dist/test/property/fuzz-replica.test.js';
const NOW = 1_000_000;
const CALL_MS = 2000;
const CHECK_CODES: readonly ErrorCode[] = ['HAMSYNC_ERR_BATCH', 'HAMSYNC_ERR_UPDATE', 'HAMSYNC_ERR_KEY', 'HAMSYNC_ERR_STATE', 'HAMSYNC_ERR_SOURCE', 'HAMSYNC_ERR_VALUE', 'HAMSYNC_ERR_VALUE_TOO_LARGE'];
/** Per-source queue caps, where the replica has them: a valid batch may be refused whole with these. */
const QUEUE_CODES: readonly ErrorCode[] = (Object.keys(ERROR_CODES) as ErrorCode[]).filter((c) => c === 'HAMSYNC_ERR_DEFERRED_FULL' || c === 'HAMSYNC_ERR_QUARANTINE_FULL');

const protoNames = (): string => JSON.stringify([Object.prototype, Array.prototype, Function.prototype].map((p) => Object.getOwnPropertyNames(p).sort()));
const PROTO_BEFORE = protoNames();

// ---------------------------------------------------------------------------------------------
// Updates: valid ones from small pools (ties, duplicates and "same" are common), and invalid ones
// with exactly one thing wrong, each knowing the error it must cause under given limits.

type Expect = (limits: Limits) => ErrorCode | 'ok';
interface Item {
  /** Absent: a hole in the batch array. */
  update?: unknown;
  hole?: true;
  expect: Expect;
  what: string;
}

/** What a key segment may not hold (docs/PROTOCOL.md): wildcards, C0/C1 controls, Unicode non-characters (and it may not be "." or ".."). */
const BAD_KEY_CHAR = /[\p{Cc}\p{Noncharacter_Code_Point}+#]/u;

/** The key rules, written out independently of src/model/keys.ts. */
function keyVerdict(key: unknown, limits: Limits): ErrorCode | 'ok' {
  if (typeof key !== 'string' || key.length === 0) return 'HAMSYNC_ERR_KEY';
  if (Buffer.byteLength(key) > Math.min(limits.maxKeyBytes, MAX_STORABLE_KEY_BYTES)) return 'HAMSYNC_ERR_KEY';
  const segments = key.split('/');
  if (segments.length > limits.maxKeyDepth) return 'HAMSYNC_ERR_KEY';
  if (segments.some((s) => s.length === 0 || s === '.' || s === '..' || BAD_KEY_CHAR.test(s)) || !key.isWellFormed()) return 'HAMSYNC_ERR_KEY';
  return 'ok';
}

const KEYS = ['a', 'a/b', '...', '.a/b..', 'pi-7/cpu/temp', '__proto__', 'constructor/prototype', 'toString', '日本/😀', 'x\u2028y', ' ', '\ufeff', 'x'.repeat(256), Array.from({ length: 16 }, () => 'd').join('/')];
const SOURCES = ['dev1', 'dev2', 'Z_9', 'a'.repeat(64)];
const parsed = (text: string): unknown => JSON.parse(text);
const VALUES: unknown[] = ['x', 'y', 'Hello Earth', 'Hello Mars', 1, 2, -0, 0, null, true, false, { a: 1 }, [1, [2]], parsed('{"__proto__":{"polluted":"yes"}}'), parsed('{"constructor":{"prototype":{"polluted":"yes"}}}')];
/** Valid states: finite and greater than 0 (docs/PROTOCOL.md "put"); zero and negative ones are in BAD. */
const STATES = [NOW - 3, NOW - 2, NOW - 1, NOW, NOW + 1, NOW + 2, NOW - 0.5, 1, 5e-324, NOW + 1e6, 1e308];

const validArb: fc.Arbitrary<Item> = fc
  .record({
    key: fc.constantFrom(...KEYS),
    value: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...VALUES) }, { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 2 }) }, { weight: 1, arbitrary: fc.constant('v'.repeat(65534)) }),
    state: fc.constantFrom(...STATES),
    source: fc.constantFrom(...SOURCES),
  })
  .map((update) => ({ update, expect: () => 'ok' as const, what: 'valid' }));

/** Long and deep keys: valid or not depending on the limits (and never over MAX_STORABLE_KEY_BYTES). */
const longKeyArb: fc.Arbitrary<Item> = fc
  .oneof(
    fc.integer({ min: 250, max: 1100 }).map((n) => 'k'.repeat(n)),
    fc.integer({ min: 80, max: 400 }).map((n) => '日'.repeat(n)),
    fc.constantFrom('k'.repeat(MAX_STORABLE_KEY_BYTES), 'k'.repeat(MAX_STORABLE_KEY_BYTES + 1), 'k'.repeat(5000), `${'é'.repeat(511)}k`, '😀'.repeat(257)),
    fc.integer({ min: 15, max: 70 }).map((n) => Array.from({ length: n }, () => 's').join('/')),
  )
  .chain((key) =>
    fc.record({ state: fc.constantFrom(...STATES), source: fc.constantFrom(...SOURCES) }).map(({ state, source }) => ({
      update: { key, value: 'long', state, source },
      expect: (limits: Limits) => keyVerdict(key, limits),
      what: `key of ${Buffer.byteLength(key)} bytes`,
    })),
  );

const cyclic: Record<string, unknown> = { a: 1 };
cyclic.me = cyclic;
const sparse: unknown[] = [];
sparse[1] = 1;
const deep65 = JSON.parse('['.repeat(65) + ']'.repeat(65)) as unknown;
const BAD: [field: 'key' | 'state' | 'source' | 'value', values: unknown[], code: ErrorCode][] = [
  ['key', ['', 'a//b', '/x', 'x/', '.', '..', 'a/./b', 'a/..', '../x', '+', 'a/#', 'a\u0000', 'a\u007f', 'a\u0085', '\uffff', 'a/\ufdd0', 'a\nb', '\ud800', 'a\udfffb', 1, null, undefined, ['a'], {}, new String('a')], 'HAMSYNC_ERR_KEY'],
  ['state', [NaN, Infinity, -Infinity, '5', null, undefined, 5n, [5], new Number(5), {}, 0, -0, -5, -1e308, -5e-324], 'HAMSYNC_ERR_STATE'],
  ['source', ['', 'a b', 'x'.repeat(65), 1, null, undefined, 'dév', 'dev1\n'], 'HAMSYNC_ERR_SOURCE'],
  [
    'value',
    [undefined, NaN, Infinity, () => 1, Symbol('s'), 1n, new Date(0), new Map(), cyclic, deep65, sparse, { a: undefined }, { __proto__: { polluted: 'yes' } }, Object.create(Array.prototype), new Number(1)],
    'HAMSYNC_ERR_VALUE',
  ],
  ['value', ['v'.repeat(65535), '日'.repeat(21845), { s: 'v'.repeat(65530) }], 'HAMSYNC_ERR_VALUE_TOO_LARGE'],
];
const invalidArb: fc.Arbitrary<Item> = fc.oneof(
  ...BAD.map(([field, values, code]) =>
    fc.tuple(validArb, fc.constantFrom(...values.keys())).map(([base, i]) => ({
      update: { ...(base.update as object), [field]: values[i] },
      expect: () => code,
      what: `${field} #${i}`,
    })),
  ),
  validArb.map(({ update }) => {
    const rest = { ...(update as Record<string, unknown>) };
    delete rest.value;
    return { update: rest, expect: () => 'HAMSYNC_ERR_VALUE' as const, what: 'no value' };
  }),
  fc.constantFrom<unknown>(null, 1, 'x', [], true).map((update) => ({ update, expect: () => 'HAMSYNC_ERR_UPDATE' as const, what: 'not an object' })),
  fc.constant<Item>({ hole: true, expect: () => 'HAMSYNC_ERR_UPDATE', what: 'a hole' }),
);

const batchArb = fc
  .tuple(
    fc.oneof(
      { weight: 2, arbitrary: fc.array(validArb, { maxLength: 10 }) },
      { weight: 3, arbitrary: fc.array(fc.oneof({ weight: 8, arbitrary: validArb }, { weight: 1, arbitrary: longKeyArb }, { weight: 1, arbitrary: invalidArb }), { maxLength: 12 }) },
    ),
    fc.array(fc.nat(), { maxLength: 3 }),
  )
  // Repeats within the batch: exact duplicates must be written once.
  .map(([items, repeats]) => (items.length === 0 ? items : [...items, ...repeats.map((i) => items[i % items.length] as Item)]));

function toArray(items: readonly Item[]): unknown[] {
  const out: unknown[] = [];
  out.length = items.length;
  items.forEach((it, i) => {
    if (!it.hole) out[i] = it.update;
  });
  return out;
}

// ---------------------------------------------------------------------------------------------
// Snapshots through the replica's own LMDB environment. Not through a second handle opened on
// the same files: LMDB says not to open one environment twice in a process, and lmdb-js keeps a
// second handle's read snapshot until its next macrotask, so a read right after `committed` can
// miss the batch (issue 14 item 20: the "extra row from another batch" was a stale "before").

type Dump = Record<string, [key: unknown, value: unknown][]>;
function dump(store: Store): Dump {
  const out: Dump = {};
  for (const [name, db] of Object.entries(store) as [string, unknown][]) {
    if (name === 'root' || name === 'historyByKey' || name === 'historyUnindexed' || typeof (db as { getRange?: unknown } | undefined)?.getRange !== 'function') continue;
    out[name] = [...(db as Store['live']).getRange({})].map(({ key, value }) => [key, value]);
  }
  // The per-key index is built in the background (src/sync/history-index.ts): a row is in
  // historyByKey or still waits in historyUnindexed (or, while it moves, both). Compared as one set.
  const index = new Map<string, [unknown, unknown]>();
  for (const key of store.historyByKey.getKeys()) index.set(id(key), [key, true]);
  for (const { key: seq, value: [k, s] } of store.historyUnindexed?.getRange({}) ?? []) index.set(id([k, s, seq]), [[k, s, seq], true]);
  out.historyIndex = [...index.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  return out;
}
const id = (k: unknown): string => JSON.stringify(k);

interface Rig {
  name: string;
  dir: string;
  replica: Replica;
  /** The replica's own store, for snapshots (reads after `committed` see the batch). */
  reader: Store;
  runs: { accepted: number; rejected: number; queueRefused: number; rows: number; deferred: number; quarantined: number; duplicates: number };
}
const rigs: Rig[] = [];

async function openRig(name: string, limits: Partial<Limits>): Promise<Rig> {
  const dir = tempDir();
  const replica = await Replica.open({ dataDir: dir, clock: new ManualClock(NOW), limits });
  const reader = (replica as unknown as { store: Store }).store;
  return { name, dir, replica, reader, runs: { accepted: 0, rejected: 0, queueRefused: 0, rows: 0, deferred: 0, quarantined: 0, duplicates: 0 } };
}

before(async () => {
  rigs.push(await openRig('default limits', {}));
  // maxKeyBytes at the ceiling: the longest keys LMDB must store.
  rigs.push(await openRig('maxKeyBytes 1024 (the ceiling)', { maxKeyBytes: 1024, maxKeyDepth: 64 }));
});
after(async () => {
  for (const rig of rigs) {
    await rig.replica.close();
    removeDir(rig.dir);
  }
});

// ---------------------------------------------------------------------------------------------
// The property

const fp = (key: string, state: number, source: string, text: string): string => JSON.stringify([key, state, source, text]);

async function runBatch(rig: Rig, items: readonly Item[]): Promise<void> {
  const { replica, reader } = rig;
  const batch = toArray(items);
  const expected = items.map((it) => it.expect(replica.limits)).find((c) => c !== 'ok') ?? 'ok';
  const beforeDump = dump(reader);

  const start = performance.now();
  let receipt: ReturnType<Replica['receive']> | undefined;
  let code: ErrorCode | undefined;
  try {
    receipt = replica.receive(batch);
  } catch (err) {
    if (!(err instanceof HamsyncError)) assert.fail(`receive threw past the boundary: ${err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err)}`);
    assert.ok(Object.hasOwn(ERROR_CODES, err.code) && [...CHECK_CODES, ...QUEUE_CODES].includes(err.code), `receive threw ${err.code}: ${err.message.slice(0, 200)}`);
    assert.ok(err.message.startsWith(`${err.code}: `), 'the message starts with its code');
    code = err.code;
  }
  assert.ok(performance.now() - start < CALL_MS, 'receive returns in bounded time');

  if (code !== undefined || receipt === undefined) {
    const queueRefusal = expected === 'ok' && QUEUE_CODES.includes(code as ErrorCode);
    assert.ok(code === expected || queueRefusal, `receive threw ${code}, expected ${expected} (${items.map((i) => i.what).join(', ')})`);
    if (queueRefusal) rig.runs.queueRefused++;
    else rig.runs.rejected++;
    await new Promise((resolve) => setImmediate(resolve));
    await replica.flushed();
    assert.deepEqual(dump(reader), beforeDump, `a refused batch (${code}) changed the store`);
    return;
  }
  assert.equal(expected, 'ok', `receive accepted a batch with an invalid update (${items.map((i) => i.what).join(', ')})`);
  await receipt.committed;
  rig.runs.accepted++;
  const afterDump = dump(reader);
  checkStored(rig, checkBatch(batch, replica.limits), receipt.results, beforeDump, afterDump);
}

/** Every result is one new row (or a duplicate, none), the old rows are untouched, live is HAM's. */
function checkStored(rig: Rig, checked: readonly CheckedUpdate[], results: readonly { decision: string; duplicate: boolean }[], was: Dump, now: Dump): void {
  assert.equal(results.length, checked.length, 'one result per update');
  const added = (name: string): [unknown, unknown][] => {
    const rows = now[name] ?? [];
    const current = new Map(rows.map(([k, v]) => [id(k), id(v)]));
    for (const [k, v] of was[name] ?? []) assert.equal(current.get(id(k)), id(v), `${name} row ${id(k)} changed or vanished`);
    const old = new Set((was[name] ?? []).map(([k]) => id(k)));
    return rows.filter(([k]) => !old.has(id(k)));
  };
  const history = added('history');
  const deferred = added('deferred');
  const quarantined = added('quarantine');
  assert.equal(added('historyIndex').length, history.length, 'one index row (built or waiting) per history row');

  // The live view, and the decisions, replayed with HAM over the live rows from before.
  const live = new Map((was.live ?? []).map(([k, v]) => [k as string, { ...(v as { s: number; src: string; j: string }) }]));
  const seenHistory = new Set((was.history ?? []).map(([k, v]) => { const r = v as { k: string; src: string; j: string }; return fp(r.k, (k as number[])[0] as number, r.src, r.j); }));
  const seenDeferred = new Set((was.deferred ?? []).map(([k, v]) => { const [s, key] = k as [number, string]; const r = v as { src: string; j: string }; return fp(key, s, r.src, r.j); }));
  const wantHistory: string[] = [];
  const wantDeferred: string[] = [];
  const wantQuarantine: string[] = [];
  checked.forEach((u, i) => {
    const r = results[i] as { decision: string; duplicate: boolean };
    const f = fp(u.key, u.state, u.source, u.text);
    if (r.duplicate) rig.runs.duplicates++;
    if (u.state > NOW) {
      assert.ok(r.decision === 'defer' || r.decision === 'quarantine', `update ${i} from the future was decided ${r.decision}`);
      if (r.decision === 'quarantine') {
        if (!r.duplicate) wantQuarantine.push(id([u.source, u.key, u.state, u.text]));
        return;
      }
      assert.equal(r.duplicate, seenDeferred.has(f), `update ${i}: duplicate flag of a deferred update`);
      if (!r.duplicate) wantDeferred.push(id([u.state, u.key, u.source, u.text, NOW]));
      seenDeferred.add(f);
      return;
    }
    const cur = live.get(u.key);
    const decision = hamCanonical(NOW, { state: u.state, text: u.text }, cur && { state: cur.s, text: cur.j });
    assert.equal(r.decision, decision, `update ${i} ${f}`);
    assert.equal(r.duplicate, seenHistory.has(f), `update ${i}: duplicate flag (${decision})`);
    if (decision === 'apply') live.set(u.key, { s: u.state, src: u.source, j: u.text });
    if (decision === 'same' && cur && u.source > cur.src) cur.src = u.source;
    if (r.duplicate) return;
    const outcome = decision === 'apply' ? 'applied' : decision === 'same' ? 'same' : cur && cur.s === u.state ? 'tie-lost' : 'historical';
    wantHistory.push(id([u.state, u.key, u.source, u.text, outcome, false, NOW]));
    seenHistory.add(f);
  });
  const sorted = (xs: string[]): string[] => [...xs].sort();
  const gotHistory = history.map(([k, v]) => { const r = v as { k: string; src: string; j: string; o: string; d: boolean; rx: number }; return id([(k as number[])[0], r.k, r.src, r.j, r.o, r.d, r.rx]); });
  const gotDeferred = deferred.map(([k, v]) => { const [s, key] = k as [number, string]; const r = v as { src: string; j: string; rx: number }; return id([s, key, r.src, r.j, r.rx]); });
  const gotQuarantine = quarantined.map(([k, v]) => { const [src, key, s] = k as [string, string, number]; return id([src, key, s, (v as { j: string }).j]); });
  assert.deepEqual(sorted(gotHistory), sorted(wantHistory), 'new history rows are exactly the resolved updates');
  assert.deepEqual(sorted(gotDeferred), sorted(wantDeferred), 'new deferred rows are exactly the deferred updates');
  assert.deepEqual(sorted(gotQuarantine), sorted(wantQuarantine), 'new quarantine rows are exactly the quarantined updates');
  const gotLive = (now.live ?? []).map(([k, v]) => { const r = v as { s: number; src: string; j: string }; return id([k, { s: r.s, src: r.src, j: r.j }]); });
  const wantLive = [...live].map(([k, v]) => id([k, { s: v.s, src: v.src, j: v.j }]));
  assert.deepEqual(sorted(gotLive), sorted(wantLive), 'the live view is HAM over the old live view and the batch');
  rig.runs.rows += history.length;
  rig.runs.deferred += deferred.length;
  rig.runs.quarantined += quarantined.length;
}

test(`a batch is stored whole or not at all, exactly as resolved (seed ${SEED})`, { timeout: 120_000 }, async (t) => {
  try {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: rigs.length - 1 }), batchArb, (which, items) => runBatch(rigs[which] as Rig, items)),
      { seed: SEED, numRuns: 300, includeErrorInReport: true },
    );
  } catch (err) {
    console.error(`never a partial batch: failed with seed ${SEED} (rerun: HAMSYNC_SEED=${SEED} node --test ${FILE})`);
    throw err;
  }
  for (const rig of rigs) t.diagnostic(`${rig.name}: ${JSON.stringify(rig.runs)}`);
  for (const rig of rigs) {
    const r = rig.runs;
    assert.ok(r.accepted > 20 && r.rejected > 5 && r.rows > 0 && r.deferred > 0 && r.duplicates > 0, `${rig.name}: the generator reaches every case ${JSON.stringify(r)}`);
  }
});

test('a batch that is not an array, or over maxBatch, is refused and stores nothing', async () => {
  const rig = rigs[0] as Rig;
  const was = dump(rig.reader);
  for (const input of [null, 1, 'x', { key: 'a', value: 1, state: 1, source: 'dev1' }, Array.from({ length: rig.replica.limits.maxBatch + 1 }, () => ({ key: 'a', value: 1, state: 1, source: 'dev1' }))]) {
    assert.throws(() => rig.replica.receive(input as unknown[]), (err: unknown) => err instanceof HamsyncError && err.code === 'HAMSYNC_ERR_BATCH');
  }
  await rig.replica.flushed();
  assert.deepEqual(dump(rig.reader), was);
});

test('no prototype was polluted, and __proto__ keys and values were stored as data', () => {
  assert.equal(protoNames(), PROTO_BEFORE);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const rig = rigs[0] as Rig;
  const stored = rig.replica.get('__proto__');
  if (stored) assert.equal(typeof stored.key, 'string');
  for (const e of rig.replica.live()) {
    if (typeof e.value === 'object' && e.value !== null && Object.hasOwn(e.value, '__proto__')) {
      assert.equal(Object.getPrototypeOf(e.value), Object.prototype, 'a stored __proto__ key is an own property, not a prototype');
    }
  }
});
