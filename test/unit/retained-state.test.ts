/**
 * Retained state read from the live view (broker/state-filter.ts, broker/retained-state.ts): which
 * keys a subscription filter selects, and the messages a subscriber gets for it, against a brute
 * force MQTT match over every live key (seeded; small pages so every lookup crosses pages).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { RetainedState } from '../../broker/retained-state.js';
import { isStateTopic, stateLookup } from '../../broker/state-filter.js';
import { createContext } from '../../src/context.js';
import { canonical, type Json } from '../../src/ham/lexical.js';
import { ManualClock } from '../../src/ham/manual-clock.js';
import { Replica } from '../../src/sync/replica.js';
import { encodeState } from '../../src/wire/codec.js';
import { prng, seedFromEnv } from '../helpers/seed.js';
import { removeDir, tempDir } from '../helpers/tmp.js';

const T0 = 1_000_000_000;

/** MQTT topic matching, spelled out level by level (the reference). */
function mqttMatch(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

async function open(t: TestContext): Promise<Replica> {
  const dir = tempDir();
  const r = await Replica.open({ dataDir: dir, clock: new ManualClock(T0) });
  t.after(async () => {
    await r.close().catch(() => undefined);
    removeDir(dir);
  });
  return r;
}

test('stateLookup: one key, a prefix range, or a scan; none for other kinds and namespaces', () => {
  const l = (f: string): unknown => {
    const x = stateLookup('default', f);
    return x && { exact: x.exact, prefix: x.prefix };
  };
  assert.deepEqual(l('hamsync/default/state/a/b'), { exact: 'a/b', prefix: undefined });
  assert.deepEqual(l('hamsync/+/state/a/b'), { exact: 'a/b', prefix: undefined });
  assert.deepEqual(l('hamsync/default/state/a/#'), { exact: 'a', prefix: 'a/' });
  assert.deepEqual(l('hamsync/default/state/a/+/c'), { exact: undefined, prefix: 'a/' });
  assert.deepEqual(l('hamsync/default/state/+/c'), { exact: undefined, prefix: '' });
  assert.deepEqual(l('hamsync/default/state/#'), { exact: undefined, prefix: '' });
  assert.deepEqual(l('#'), { exact: undefined, prefix: '' });
  assert.deepEqual(l('hamsync/#'), { exact: undefined, prefix: '' });
  assert.deepEqual(l('+/+/+/x'), { exact: 'x', prefix: undefined });
  for (const none of ['hamsync/other/state/#', 'hamsync/default/put/#', 'hamsync/default/state', 'hamsync/default', '$share/g/hamsync/default/state/#', 'plain/topic']) {
    assert.equal(stateLookup('default', none), undefined, none);
  }
  assert.equal(stateLookup('default', 'hamsync/default/state/a/#')?.match('ab'), false);
  assert.equal(isStateTopic('default', 'hamsync/default/state/a'), true);
  assert.equal(isStateTopic('default', 'hamsync/default/state/'), false);
  assert.equal(isStateTopic('default', 'hamsync/other/state/a'), false);
});

test('retained state: every filter gets exactly the live keys it matches, as state messages, never a deferred one (seeded)', async (t) => {
  const seed = seedFromEnv(Date.now() % 1e9);
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  t.diagnostic(`seed ${seed} (HAMSYNC_SEED=${seed} replays it)`);
  try {
    const replica = await open(t);
    const segments = ['a', 'b', 'ab', 'a b', 'é', 'z😀', 'x.y', 'c'];
    const keys = new Set<string>();
    while (keys.size < 300) keys.add(Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => pick(segments)).join('/'));
    const values = new Map<string, Json>();
    const updates = [...keys].map((key, i) => {
      const value: Json = i % 3 === 0 ? { n: i, s: key } : i % 3 === 1 ? [i, true] : `v${i}`;
      values.set(key, value);
      return { key, value, state: T0 - 1000 + i, source: i % 2 ? 'dev-a' : 'dev-b' };
    });
    await replica.receive(updates).durable;
    // Updates from the future wait in the deferred queue: never retained state.
    await replica.receive([{ key: 'zz/deferred', value: 1, state: T0 + 60_000, source: 'dev-a' }, { key: 'a/deferred', value: 1, state: T0 + 60_000, source: 'dev-a' }]).durable;
    assert.equal(replica.deferred().length, 2);
    const state = new RetainedState(createContext(), replica, { maxRows: 3, maxBytes: 120, maxScan: 5 });
    const filters = ['#', 'hamsync/#', 'hamsync/default/state/#', 'hamsync/other/state/#', 'hamsync/default/put/#', 'hamsync/default/state/nope', 'hamsync/default/state/zz/#', 'hamsync/default/state/+/deferred'];
    for (let i = 0; i < 200; i++) {
      const levels = pick([...keys]).split('/').map((l) => (rnd() < 0.3 ? '+' : l));
      if (rnd() < 0.3) levels.splice(Math.floor(rnd() * levels.length), levels.length, '#');
      const head = pick(['hamsync/default/state', 'hamsync/+/state', '+/default/+', 'hamsync/default/state']);
      filters.push(`${head}/${levels.join('/')}`);
    }
    for (const filter of filters) {
      const got = [...state.messages(filter)];
      const want = [...keys].filter((k) => mqttMatch(filter, `hamsync/default/state/${k}`)).sort();
      assert.deepEqual(got.map((p) => p.topic).sort(), want.map((k) => `hamsync/default/state/${k}`), filter);
      for (const p of got) {
        const key = p.topic.slice('hamsync/default/state/'.length);
        const u = updates.find((x) => x.key === key);
        assert.ok(u);
        assert.equal(p.payload.toString(), encodeState(canonical(values.get(key) as Json), u.state, u.source), key);
        assert.equal(p.retain, true);
        assert.equal(p.qos, 1);
      }
    }
    // A lookup under way when the replica closes ends quietly (logged), it does not throw.
    const it = state.messages('#');
    it.next();
    await replica.close();
    assert.doesNotThrow(() => [...it]);
  } catch (err) {
    t.diagnostic(`failed with seed ${seed}`);
    throw err;
  }
});
