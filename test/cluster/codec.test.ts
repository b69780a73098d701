import assert from 'node:assert/strict';
import { test } from 'node:test';
import { livePeers, parseNodeEntry } from '../../broker/cluster/registry.js';
import { clusterKeys, compareIds, decideStart, decodeRows, encodeRows, parseEntry } from '../../broker/cluster/stream-codec.js';
import type { ChangeRow } from '../../src/store/rows.js';

test('stream ids compare numerically, part by part', () => {
  assert.ok(compareIds('9-0', '10-0') < 0);
  assert.ok(compareIds('10-2', '10-10') < 0);
  assert.equal(compareIds('1796298538415-56', '1796298538415-56'), 0);
  assert.ok(compareIds('2-0', '1-99') > 0);
  assert.throws(() => compareIds('1-0', 'x'), /not a stream id/);
});

test('keys share the namespace hash tag (one Redis Cluster slot)', () => {
  const k = clusterKeys('fleet-a');
  for (const key of Object.values(k)) assert.ok(key.startsWith('hamsync:{fleet-a}:'), key);
});

test('rows travel without their origin and deferred flags, signature kept; bad rows are counted, never thrown', () => {
  const rows: ChangeRow[] = [
    { k: 'a/b', s: 5, src: 'dev1', j: '{"x":1}' },
    { k: 'c', s: 6, src: 'dev2', j: '"v"', g: 'sig', d: true, x: 1 },
  ];
  const text = encodeRows(rows);
  assert.doesNotMatch(text, /"x"|true/);
  const { updates, bad } = decodeRows(text);
  assert.equal(bad, 0);
  assert.deepEqual(updates, [
    { key: 'a/b', state: 5, source: 'dev1', value: { x: 1 } },
    { key: 'c', state: 6, source: 'dev2', value: 'v', sig: 'sig' },
  ]);
  assert.deepEqual(decodeRows('not json'), { updates: [], bad: 1 });
  assert.deepEqual(decodeRows('{"a":1}'), { updates: [], bad: 1 });
  const mixed = decodeRows(JSON.stringify([['k', 1, 's', '1'], 'junk', ['k', 1, 's'], ['k', 1, 's', '{bad'], ['k', 1, 's', 2]]));
  assert.equal(mixed.updates.length, 1);
  assert.equal(mixed.bad, 4);
});

test('entries: origin, generation and a positive number are required', () => {
  assert.deepEqual(parseEntry('1-0', ['o', 'n1', 'g', 'G', 'n', '3', 'r', '[]']), { id: '1-0', origin: 'n1', gen: 'G', n: 3, rows: '[]' });
  assert.equal(parseEntry('1-0', ['o', 'n1', 'g', 'G', 'n', '0']), undefined);
  assert.equal(parseEntry('1-0', ['o', 'n1', 'n', '3']), undefined);
  assert.equal(parseEntry('bad', ['o', 'n1', 'g', 'G', 'n', '3']), undefined);
});

test('the start decision: resume, or a gap (joined, generation, trimmed) consuming from the stream end', () => {
  const info = { gen: 'G', added: 500, length: 100, last: '9-0' };
  const end = { gen: 'G', id: '9-0', n: 500 };
  // A new node: the whole generation is there -> from the start; some trimmed -> gap.
  assert.deepEqual(decideStart(undefined, { ...info, length: 500 }), { kind: 'resume', mark: { gen: 'G', id: '0-0', n: 0 } });
  assert.deepEqual(decideStart(undefined, info), { kind: 'gap', why: 'joined', mark: end, detail: 'a new node; the stream no longer holds its first 400 entries' });
  // Another generation, or a position beyond what the stream ever had (Redis replaced).
  assert.equal(decideStart({ gen: 'F', id: '5-0', n: 450 }, info).kind, 'gap');
  assert.equal((decideStart({ gen: 'F', id: '5-0', n: 450 }, info) as { why: string }).why, 'generation');
  assert.equal((decideStart({ gen: 'G', id: '5-0', n: 501 }, info) as { why: string }).why, 'generation');
  // Trimmed past the position: entries 400 and below are gone; at 400 the next one (401) is still there.
  assert.equal((decideStart({ gen: 'G', id: '5-0', n: 399 }, info) as { why: string }).why, 'trimmed');
  assert.deepEqual(decideStart({ gen: 'G', id: '5-0', n: 400 }, info), { kind: 'resume', mark: { gen: 'G', id: '5-0', n: 400 } });
  assert.deepEqual(decideStart({ gen: 'G', id: '9-0', n: 500 }, info).kind, 'resume');
});

test('registry entries: malformed ones and stale ones are not live peers; self is left out', () => {
  const now = 100_000;
  const entry = (at: number): string => JSON.stringify({ url: 'mqtt://h:1', id: '1-0', n: 1, pushed: 2, head: 3, at });
  assert.equal(parseNodeEntry('{'), undefined);
  assert.equal(parseNodeEntry(JSON.stringify({ url: 1 })), undefined);
  const peers = livePeers({ me: entry(now), b: entry(now - 1000), a: entry(now - 5000), c: entry(now - 7000), d: 'junk' }, 'me', now, 6000);
  assert.deepEqual(peers.map(([id]) => id), ['a', 'b']);
});
