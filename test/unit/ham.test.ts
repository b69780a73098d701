/**
 * Table-driven tests of the HAM resolver (`ham`, `hamCanonical`) and of `canonical()`,
 * the lexical form HAM uses to break equal-state ties.
 *
 * The cases follow Mark Nadal's talk that defines HAM (../shared/reference/ham-talk.txt):
 * an operating state that is the open-closed interval (current.state, machineState],
 * a historical state below it, a deferred state above it, and a naive lexical sort
 * for conflicts at exactly the same state.
 *
 * Randomized tests use fast-check with a fixed seed (override with HAMSYNC_SEED);
 * fast-check prints the seed and path of any failure so it can be replayed.
 */
import { expectHamsyncError } from '../helpers/errors.js';
import { seedFromEnv } from '../helpers/seed.js';
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ham as hamFromPackage } from 'hamsync';
import {
  ham,
  hamCanonical,
  canonical,
  compareLexical,
  HamsyncError,
  type Decision,
  type Stamped,
} from '../../src/index.js';

const SEED = seedFromEnv(0x4a3d5eed);

/**
 * One UTF-16 code unit or one code point, lone surrogates included, biased towards the
 * characters that matter to JSON text order ('"', '\\', digits, '-', letters).
 * (A custom unit: fast-check's 'binary' unit costs ~1 s of one-time set-up.)
 */
const anyChar = fc.oneof(
  fc.constantFrom('"', '\\', '!', ' ', '-', '0', '9', 'a', 'z', 'A', 'Z', '{', '['),
  fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
  fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
);



const s = (state: number, value: unknown): Stamped => ({ state, value });

interface Case {
  readonly name: string;
  readonly machine: number;
  readonly incoming: Stamped;
  readonly current?: Stamped;
  readonly want: Decision;
}

function runTable(cases: readonly Case[]): void {
  for (const c of cases) {
    test(c.name, () => {
      assert.equal(ham(c.machine, c.incoming, c.current), c.want);
    });
  }
}

const TWO_YEARS_MS = 2 * 365 * 24 * 60 * 60 * 1000;
const NOW_MS = 1_700_000_000_000;

describe('ham: the talk', () => {
  describe('Earth and Mars write "Hello" at the same state: lexical sort decides, everywhere alike', () => {
    runTable([
      { name: '"Hello Mars" arriving over "Hello Earth" wins (apply)', machine: 10, incoming: s(5, 'Hello Mars'), current: s(5, 'Hello Earth'), want: 'apply' },
      { name: '"Hello Earth" arriving over "Hello Mars" loses (historical)', machine: 10, incoming: s(5, 'Hello Earth'), current: s(5, 'Hello Mars'), want: 'historical' },
      { name: 'the same at a wall-clock state', machine: NOW_MS + 1, incoming: s(NOW_MS, 'Hello Mars'), current: s(NOW_MS, 'Hello Earth'), want: 'apply' },
      { name: 'the tie is decided the same even when the tied state equals the machine state', machine: 5, incoming: s(5, 'Hello Earth'), current: s(5, 'Hello Mars'), want: 'historical' },
    ]);

    test('both planets converge: each applies the other\'s update iff it is the lexical winner', () => {
      const earth = s(5, 'Hello Mars'); // Earth wrote "Hello Mars"
      const mars = s(5, 'Hello Earth'); // Mars wrote "Hello Earth"
      // Earth receives Mars' update; Mars receives Earth's.
      const onEarth = ham(10, mars, earth) === 'apply' ? mars : earth;
      const onMars = ham(10, earth, mars) === 'apply' ? earth : mars;
      assert.deepEqual(onEarth, onMars);
      assert.equal(onEarth.value, 'Hello Mars');
    });
  });

  describe('the liar two years ahead is deferred, not applied', () => {
    runTable([
      { name: 'over a current value', machine: NOW_MS, incoming: s(NOW_MS + TWO_YEARS_MS, 'I win'), current: s(NOW_MS - 1000, 'honest'), want: 'defer' },
      { name: 'with no current value', machine: NOW_MS, incoming: s(NOW_MS + TWO_YEARS_MS, 'I win'), want: 'defer' },
      { name: 'even one millisecond ahead', machine: NOW_MS, incoming: s(NOW_MS + 1, 'x'), current: s(NOW_MS - 1, 'y'), want: 'defer' },
      { name: 'even a lexically winning value at the same state as current', machine: NOW_MS, incoming: s(NOW_MS + TWO_YEARS_MS, 'zzz'), current: s(NOW_MS + TWO_YEARS_MS, 'aaa'), want: 'defer' },
      { name: 'once the machine reaches that state, it applies', machine: NOW_MS + TWO_YEARS_MS, incoming: s(NOW_MS + TWO_YEARS_MS, 'I win'), current: s(NOW_MS - 1000, 'honest'), want: 'apply' },
    ]);
  });

  describe('operating state (3, 5]: current.state = 3, machine state = 5', () => {
    const current = s(3, 'm');
    runTable([
      { name: 'incoming 2 is below the interval: historical', machine: 5, incoming: s(2, 'z'), current, want: 'historical' },
      { name: 'incoming 2.9999 is below the interval: historical', machine: 5, incoming: s(2.9999, 'z'), current, want: 'historical' },
      { name: 'incoming 3 with the same value: same (3 is the open end)', machine: 5, incoming: s(3, 'm'), current, want: 'same' },
      { name: 'incoming 3 with a lexically smaller value: historical (tie lost)', machine: 5, incoming: s(3, 'a'), current, want: 'historical' },
      { name: 'incoming 3 with a lexically greater value: apply only as a tie win', machine: 5, incoming: s(3, 'z'), current, want: 'apply' },
      { name: 'incoming 3.0001 is inside: apply', machine: 5, incoming: s(3.0001, 'a'), current, want: 'apply' },
      { name: 'incoming 4 is inside: apply (value does not matter)', machine: 5, incoming: s(4, 'a'), current, want: 'apply' },
      { name: 'incoming 5 is the closed end: apply', machine: 5, incoming: s(5, 'a'), current, want: 'apply' },
      { name: 'incoming 5 with the same value as current still applies (state moved)', machine: 5, incoming: s(5, 'm'), current, want: 'apply' },
      { name: 'incoming 5.0001 is above: defer', machine: 5, incoming: s(5.0001, 'a'), current, want: 'defer' },
    ]);

    test('incoming 3 is never applied because of its state alone: only by winning the tie', () => {
      for (const value of ['m', 'a', 'z', '', 0, null, true, { a: 1 }]) {
        const text = canonical(value);
        const want = text === '"m"' ? 'same' : text > '"m"' ? 'apply' : 'historical';
        assert.equal(ham(5, s(3, value), current), want, `value ${text}`);
      }
    });
  });

  describe('the talk\'s walk-through, operating state (4, 8]', () => {
    test('update at 9 is deferred, applies when the machine reaches 9, and becomes the new lower boundary', () => {
      let current: Stamped = s(4, 'Hello');
      const update = s(9, 'Hello Mars');
      assert.equal(ham(8, update, current), 'defer');
      assert.equal(ham(9, update, current), 'apply');
      current = update;
      // Closed off: the same update again is 'same'; anything at or below 9 that is not a tie win is historical.
      assert.equal(ham(9, update, current), 'same');
      assert.equal(ham(9, s(8, 'zzz'), current), 'historical');
      assert.equal(ham(9, s(9, 'Hello Earth'), current), 'historical');
      assert.equal(ham(10, s(10, 'Hello Earth'), current), 'apply');
    });
  });
});

describe('ham: no current value', () => {
  runTable([
    { name: 'below the machine state: apply', machine: 5, incoming: s(1, 'x'), want: 'apply' },
    { name: 'at the machine state: apply', machine: 5, incoming: s(5, 'x'), want: 'apply' },
    { name: 'above the machine state: defer', machine: 5, incoming: s(6, 'x'), want: 'defer' },
    { name: 'negative states work: apply', machine: -5, incoming: s(-10, 'x'), want: 'apply' },
    { name: 'negative states work: defer', machine: -5, incoming: s(-4.5, 'x'), want: 'defer' },
    { name: 'current explicitly undefined is the same as absent', machine: 5, incoming: s(5, null), current: undefined, want: 'apply' },
  ]);

  test('hamCanonical agrees without a current value', () => {
    assert.equal(hamCanonical(5, { state: 5, text: '"x"' }), 'apply');
    assert.equal(hamCanonical(5, { state: 6, text: '"x"' }), 'defer');
  });
});

describe('ham: equal-state ties by canonical JSON', () => {
  runTable([
    { name: 'number 9 beats number 10 (lexically "9" > "10")', machine: 100, incoming: s(1, 9), current: s(1, 10), want: 'apply' },
    { name: 'number 10 loses to number 9', machine: 100, incoming: s(1, 10), current: s(1, 9), want: 'historical' },
    { name: 'string "9" beats string "10"', machine: 100, incoming: s(1, '9'), current: s(1, '10'), want: 'apply' },
    { name: 'number 2 beats number 1.5', machine: 100, incoming: s(1, 2), current: s(1, 1.5), want: 'apply' },
    { name: 'number -1 loses to number 0 ("-" < "0")', machine: 100, incoming: s(1, -1), current: s(1, 0), want: 'historical' },
    { name: '-0 and 0 are the same value', machine: 100, incoming: s(1, -0), current: s(1, 0), want: 'same' },
    { name: '0 and -0 are the same value', machine: 100, incoming: s(1, 0), current: s(1, -0), want: 'same' },
    { name: 'state -0 and state 0 are the same state', machine: 100, incoming: s(-0, 'v'), current: s(0, 'v'), want: 'same' },
    { name: 'state 0 and state -0 are the same state', machine: 100, incoming: s(0, 'v'), current: s(-0, 'v'), want: 'same' },
    { name: 'machine state -0 admits incoming state 0', machine: -0, incoming: s(0, 'v'), want: 'apply' },
    { name: 'equal strings: same', machine: 100, incoming: s(1, 'Hello'), current: s(1, 'Hello'), want: 'same' },
    { name: 'equal null: same', machine: 100, incoming: s(1, null), current: s(1, null), want: 'same' },
    { name: 'equal booleans: same', machine: 100, incoming: s(1, false), current: s(1, false), want: 'same' },
    // Strings compare as JSON texts, closing quote (0x22) included: not as raw strings.
    { name: 'string "Hello" beats "Hello!" (closing \'"\' 0x22 > \'!\' 0x21)', machine: 100, incoming: s(1, 'Hello'), current: s(1, 'Hello!'), want: 'apply' },
    { name: 'string "Hello" beats "Hello world" (\'"\' > \' \')', machine: 100, incoming: s(1, 'Hello'), current: s(1, 'Hello world'), want: 'apply' },
    { name: 'string "Hello" loses to "Hellos" (\'"\' < \'s\')', machine: 100, incoming: s(1, 'Hello'), current: s(1, 'Hellos'), want: 'historical' },
    { name: 'uppercase sorts before lowercase', machine: 100, incoming: s(1, 'Z'), current: s(1, 'a'), want: 'historical' },
    { name: 'objects: keys in another order are the same', machine: 100, incoming: s(1, { b: 1, a: 2 }), current: s(1, { a: 2, b: 1 }), want: 'same' },
    {
      name: 'objects: nested keys in another order are the same',
      machine: 100,
      incoming: s(1, { z: [{ y: 1, x: [2, { q: null, p: true }] }], a: 'a' }),
      current: s(1, { a: 'a', z: [{ x: [2, { p: true, q: null }], y: 1 }] }),
      want: 'same',
    },
    { name: 'objects: {a:2} beats {a:10}', machine: 100, incoming: s(1, { a: 2 }), current: s(1, { a: 10 }), want: 'apply' },
    { name: 'objects: {a:1} beats {a:1,b:1} ("}" > ",")', machine: 100, incoming: s(1, { a: 1, b: 1 }), current: s(1, { a: 1 }), want: 'historical' },
    { name: 'arrays keep their order: [1,2] vs [2,1] differ', machine: 100, incoming: s(1, [2, 1]), current: s(1, [1, 2]), want: 'apply' },
    { name: 'objects: -0 nested is the same as 0', machine: 100, incoming: s(1, { a: [-0] }), current: s(1, { a: [0] }), want: 'same' },
    { name: 'null-prototype object equals a plain object', machine: 100, incoming: s(1, Object.assign(Object.create(null) as object, { a: 1 })), current: s(1, { a: 1 }), want: 'same' },
  ]);

  // Canonical JSON begins with: '"' (string) < '-' or digit (number) < '[' (array) < 'f' < 'n' < 't' < '{' (object).
  const groups: ReadonlyArray<{ name: string; values: readonly unknown[] }> = [
    { name: 'string', values: ['', 'a', '~~~', '\u{1F600}', '\uffff', '9', '-1', '0', 'false', 'null', 'true', '{}', '[]'] },
    { name: 'number', values: [-Number.MAX_VALUE, -1e21, -1, -0.5, -Number.MIN_VALUE, 0, Number.MIN_VALUE, 0.5, 1, 9, 10, 1e21, Number.MAX_VALUE] },
    { name: 'array', values: [[], [null], ['a'], [[]], [{}], [1, 2]] },
    { name: 'false', values: [false] },
    { name: 'null', values: [null] },
    { name: 'true', values: [true] },
    { name: 'object', values: [{}, { a: 1 }, { '': null }, { z: { a: [] } }] },
  ];

  test('type order: any string < any number < (arrays) < false < null < true < any object', () => {
    let checked = 0;
    for (let i = 0; i < groups.length; i++) {
      for (let j = i + 1; j < groups.length; j++) {
        const lo = groups[i];
        const hi = groups[j];
        assert.ok(lo !== undefined && hi !== undefined);
        for (const a of lo.values) {
          for (const b of hi.values) {
            const label: string = `${lo.name} ${canonical(a)} vs ${hi.name} ${canonical(b)}`;
            assert.equal(ham(100, s(7, b), s(7, a)), 'apply', label);
            assert.equal(ham(100, s(7, a), s(7, b)), 'historical', label);
            checked++;
          }
        }
      }
    }
    assert.ok(checked > 300);
  });

  test('every value ties with itself as same', () => {
    for (const g of groups) {
      for (const v of g.values) {
        assert.equal(ham(100, s(7, v), s(7, structuredClone(v))), 'same', `${g.name} ${canonical(v)}`);
      }
    }
  });

  test(`property: equal-state ties are antisymmetric and decided by canonical text (seed ${SEED})`, () => {
    const value = fc.jsonValue({ maxDepth: 3, stringUnit: anyChar });
    fc.assert(
      fc.property(value, value, fc.double({ noNaN: true, noDefaultInfinity: true }), (a, b, state) => {
        const forward = ham(Number.MAX_VALUE, s(state, a), s(state, b));
        const backward = ham(Number.MAX_VALUE, s(state, b), s(state, a));
        const ca = canonical(a);
        const cb = canonical(b);
        if (ca === cb) {
          assert.equal(forward, 'same');
          assert.equal(backward, 'same');
        } else {
          assert.deepEqual([forward, backward].sort(), ['apply', 'historical']);
          assert.equal(forward, ca > cb ? 'apply' : 'historical');
        }
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  test(`property: ham equals hamCanonical over canonical texts, and the interval rules hold (seed ${SEED})`, () => {
    const state = fc.oneof(fc.constantFrom(-1, -0, 0, 1, 2, 3), fc.double({ noNaN: true, noDefaultInfinity: true }));
    const value = fc.jsonValue({ maxDepth: 2 });
    fc.assert(
      fc.property(state, state, state, value, value, fc.boolean(), (m, si, sc, vi, vc, withCurrent) => {
        const current = withCurrent ? s(sc, vc) : undefined;
        const d = ham(m, s(si, vi), current);
        const dc = hamCanonical(m, { state: si, text: canonical(vi) }, current && { state: sc, text: canonical(vc) });
        assert.equal(d, dc);
        if (si > m) assert.equal(d, 'defer');
        else if (current === undefined) assert.equal(d, 'apply');
        else if (si < sc) assert.equal(d, 'historical');
        else if (si > sc) assert.equal(d, 'apply');
        else assert.notEqual(d, 'defer');
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });
});

describe('ham: invalid states throw HAMSYNC_ERR_STATE', () => {
  const badStates: ReadonlyArray<[string, unknown]> = [
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['a numeric string', '5'],
    ['undefined', undefined],
    ['null', null],
    ['a bigint', 5n],
    ['a boxed number', Object(5) as unknown],
  ];
  const good = s(1, 'v');
  for (const [label, bad] of badStates) {
    const state = bad as number;
    test(`machineState ${label}`, () => {
      const err = expectHamsyncError(() => ham(state, good, good), 'HAMSYNC_ERR_STATE', `machineState ${label}`);
      assert.equal(err.details.field, 'machineState');
      assert.match(err.message, /machineState/);
      expectHamsyncError(() => ham(state, good), 'HAMSYNC_ERR_STATE', `machineState ${label}, no current`);
    });
    test(`incoming.state ${label}`, () => {
      const err = expectHamsyncError(() => ham(10, s(state, 'v'), good), 'HAMSYNC_ERR_STATE', `incoming.state ${label}`);
      assert.equal(err.details.field, 'incoming.state');
      assert.match(err.message, /incoming\.state/);
      expectHamsyncError(() => ham(10, s(state, 'v')), 'HAMSYNC_ERR_STATE', `incoming.state ${label}, no current`);
    });
    test(`current.state ${label}`, () => {
      const err = expectHamsyncError(() => ham(10, good, s(state, 'v')), 'HAMSYNC_ERR_STATE', `current.state ${label}`);
      assert.equal(err.details.field, 'current.state');
      assert.match(err.message, /current\.state/);
      // Also when the incoming update would be deferred or is at a different state.
      expectHamsyncError(() => ham(10, s(11, 'v'), s(state, 'v')), 'HAMSYNC_ERR_STATE', `current.state ${label}, deferring`);
    });
  }

  test('extreme finite states are fine', () => {
    assert.equal(ham(Number.MAX_VALUE, s(-Number.MAX_VALUE, 'v'), s(Number.MIN_VALUE, 'v')), 'historical');
    assert.equal(ham(Number.MAX_VALUE, s(Number.MAX_VALUE, 'v')), 'apply');
    assert.equal(ham(-Number.MAX_VALUE, s(Number.MAX_VALUE, 'v')), 'defer');
  });
});

describe('ham: invalid values throw HAMSYNC_ERR_VALUE', () => {
  const cyclicObject: Record<string, unknown> = { a: 1 };
  cyclicObject.self = cyclicObject;
  const cyclicArray: unknown[] = [1];
  cyclicArray.push(cyclicArray);
  const deepCycle: Record<string, unknown> = { x: { y: [{}] } };
  ((deepCycle.x as Record<string, unknown[]>).y as Record<string, unknown>[]).push({ back: deepCycle });
  const sparse: unknown[] = [1];
  sparse[2] = 3;
  class Point {
    constructor(readonly x: number) {}
  }

  const badValues: ReadonlyArray<[string, unknown]> = [
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
    ['a bigint', 10n],
    ['NaN', NaN],
    ['Infinity', Infinity],
    ['-Infinity', -Infinity],
    ['NaN in an array', [1, NaN]],
    ['Infinity in an array', [[Infinity]]],
    ['-Infinity in an object', { a: -Infinity }],
    ['NaN deep inside', { a: [1, { b: [NaN] }] }],
    ['undefined in an array', [undefined]],
    ['undefined as an object property', { a: undefined }],
    ['a hole in a sparse array', sparse],
    ['a function in an object', { f: () => 1 }],
    ['a symbol in an array', [Symbol('s')]],
    ['a bigint in an object', { n: 1n }],
    ['a Date', new Date(0)],
    ['a Date in an object', { at: new Date(0) }],
    ['a Map', new Map([['a', 1]])],
    ['a Set', new Set([1])],
    ['a RegExp', /x/],
    ['a class instance', new Point(1)],
    ['a boxed string', Object('s') as unknown],
    ['a typed array', new Uint8Array(2)],
    ['a cyclic object', cyclicObject],
    ['a cyclic array', cyclicArray],
    ['a cycle through nested arrays and objects', deepCycle],
  ];

  for (const [label, bad] of badValues) {
    test(label, () => {
      expectHamsyncError(() => ham(10, s(5, bad), s(4, 'ok')), 'HAMSYNC_ERR_VALUE', `incoming ${label}`);
      expectHamsyncError(() => ham(10, s(5, bad)), 'HAMSYNC_ERR_VALUE', `incoming ${label}, no current`);
      expectHamsyncError(() => ham(10, s(5, 'ok'), s(4, bad)), 'HAMSYNC_ERR_VALUE', `current ${label}`);
      // Validation does not depend on the decision: deferred, historical and tie cases also reject it.
      expectHamsyncError(() => ham(10, s(11, bad)), 'HAMSYNC_ERR_VALUE', `incoming ${label}, deferring`);
      expectHamsyncError(() => ham(10, s(1, bad), s(4, 'ok')), 'HAMSYNC_ERR_VALUE', `incoming ${label}, historical`);
      expectHamsyncError(() => ham(10, s(11, 'ok'), s(4, bad)), 'HAMSYNC_ERR_VALUE', `current ${label}, deferring`);
      expectHamsyncError(() => ham(10, s(4, 'ok'), s(4, bad)), 'HAMSYNC_ERR_VALUE', `current ${label}, tie`);
      expectHamsyncError(() => canonical(bad), 'HAMSYNC_ERR_VALUE', `canonical ${label}`);
    });
  }

  test('the error names where in the value the problem is', () => {
    const err = expectHamsyncError(() => canonical({ a: [1, { b: NaN }] }), 'HAMSYNC_ERR_VALUE', 'nested NaN');
    assert.equal(err.details.path, '$.a[1].b');
  });

  test('deep but finite nesting is fine', () => {
    let v: unknown = 'leaf';
    for (let i = 0; i < 30; i++) v = i % 2 === 0 ? [v] : { k: v };
    assert.equal(ham(10, s(5, v), s(5, structuredClone(v))), 'same');
  });
});

describe('canonical()', () => {
  test('equals JSON.stringify for null, booleans, finite numbers and strings', () => {
    const primitives: unknown[] = [
      null, true, false,
      0, -0, 1, -1, 0.1, 1.5, -1e-7, 1e21, 1e-7, 123456789012345680000, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MAX_SAFE_INTEGER, 2 ** 53 + 2,
      '', 'a', 'Hello Mars', 'a"b\\c', '\n\t\r\b\f', '\u0000\u001f\u007f', '\u2028\u2029', 'é', 'e\u0301', '\u{1F600}', '\ud800', 'x\udc00y', '</script>', '9', '-0',
    ];
    for (const v of primitives) assert.equal(canonical(v), JSON.stringify(v), `value ${String(v)}`);
    assert.equal(canonical(-0), '0');
  });

  test(`property: equals JSON.stringify for primitives (seed ${SEED})`, () => {
    const primitive = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.integer(),
      fc.string({ unit: anyChar }),
    );
    fc.assert(fc.property(primitive, (v) => canonical(v) === JSON.stringify(v)), { seed: SEED, numRuns: 3000 });
  });

  test('sorts object keys, recursively, with no whitespace', () => {
    assert.equal(canonical({ b: 1, a: 2 }), '{"a":2,"b":1}');
    assert.equal(
      canonical({ b: { d: 1, c: [{ f: 1, e: 2 }, 3] }, a: 0 }),
      '{"a":0,"b":{"c":[{"e":2,"f":1},3],"d":1}}',
    );
    assert.equal(canonical([{ b: null, a: [] }, { z: {}, y: '' }]), '[{"a":[],"b":null},{"y":"","z":{}}]');
    assert.equal(canonical({}), '{}');
    assert.equal(canonical([]), '[]');
  });

  test('key order is lexical by UTF-16 code units, not insertion, integer or code-point order', () => {
    // Integer-like keys: JS enumerates them first and numerically; canonical sorts them as strings.
    assert.equal(canonical({ 9: 'a', 10: 'b', x: 'c', '': 'd' }), '{"":"d","10":"b","9":"a","x":"c"}');
    // Uppercase before lowercase.
    assert.equal(canonical({ a: 1, B: 2 }), '{"B":2,"a":1}');
    // U+1F600 is the surrogate pair D83D DE00, which sorts before U+FFFF by code units.
    assert.equal(canonical({ '\uffff': 1, '\u{1F600}': 2 }), `{"\u{1F600}":2,"\uffff":1}`);
    // Keys are escaped like JSON.stringify escapes them.
    assert.equal(canonical({ 'a"b': 1, '\n': 2 }), '{"\\n":2,"a\\"b":1}');
  });

  test('a __proto__ own key is kept as data', () => {
    const v = JSON.parse('{"__proto__":{"x":1},"a":0}') as unknown;
    assert.equal(canonical(v), '{"__proto__":{"x":1},"a":0}');
  });

  test(`property: canonical is independent of key order and round-trips through JSON.parse (seed ${SEED})`, () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4, stringUnit: anyChar }), fc.integer(), (v, salt) => {
        const text = canonical(v);
        assert.equal(text, reference(v));
        assert.equal(canonical(shuffleKeys(v, salt)), text);
        assert.equal(canonical(JSON.parse(text)), text);
      }),
      { seed: SEED, numRuns: 2000 },
    );
  });

  test('compareLexical orders canonical texts', () => {
    assert.equal(compareLexical(canonical(9), canonical(10)), 1);
    assert.equal(compareLexical(canonical('Hello Earth'), canonical('Hello Mars')), -1);
    assert.equal(compareLexical(canonical({ b: 1, a: 2 }), canonical({ a: 2, b: 1 })), 0);
  });
});

describe('public contract: import from the package name', () => {
  test('`import { ham } from \'hamsync\'` is the same resolver', () => {
    assert.equal(typeof hamFromPackage, 'function');
    assert.equal(hamFromPackage, ham);
    assert.equal(hamFromPackage(10, { state: 5, value: 'Hello Mars' }, { state: 5, value: 'Hello Earth' }), 'apply');
    assert.equal(hamFromPackage(5, { state: 6, value: 'x' }), 'defer');
  });

  test('the package exports the error contract too', async () => {
    const pkg = await import('hamsync');
    assert.equal(pkg.HamsyncError, HamsyncError);
    assert.equal(typeof pkg.ERROR_CODES.HAMSYNC_ERR_STATE, 'string');
    assert.equal(typeof pkg.ERROR_CODES.HAMSYNC_ERR_VALUE, 'string');
    assert.throws(() => pkg.ham(NaN, { state: 1, value: 1 }), (err: unknown) => pkg.isHamsyncError(err, 'HAMSYNC_ERR_STATE'));
  });
});

/** An independent oracle for canonical JSON: sorted keys (UTF-16 order), JSON.stringify for leaves. */
function reference(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const rec = v as Record<string, unknown>;
    const keys = Object.keys(rec).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(rec[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The same value with every object's keys inserted in a different (salted) order. */
function shuffleKeys(v: unknown, salt: number): unknown {
  if (Array.isArray(v)) return v.map((x) => shuffleKeys(x, salt));
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    entries.sort((a, b) => hash(a[0], salt) - hash(b[0], salt));
    const out: Record<string, unknown> = {};
    for (const [k, x] of entries) Object.defineProperty(out, k, { value: shuffleKeys(x, salt), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

function hash(text: string, salt: number): number {
  let h = salt | 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x9e3779b1);
  return h;
}
