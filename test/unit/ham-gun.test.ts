/**
 * Differential test: hamsync's `ham` against GUN's own HAM (gun@0.2020.1232, installed
 * as the devDependency alias `gun-legacy`), one-for-one over random GUN-valid inputs.
 *
 * Loading GUN prints a banner and patches globals, which is why this is a file of its
 * own: `node --test` runs each test file in its own process.
 *
 * GUN's answer maps to ours as: defer → 'defer', historical → 'historical',
 * converge+incoming → 'apply', converge+current → 'historical' (the tie was lost),
 * state → 'same'. GUN needs a current value (it returns {err} without one), so every
 * vector has one.
 *
 * Seeded with fast-check (override with HAMSYNC_SEED); fast-check prints the seed
 * and path of a failing vector so it can be replayed.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { loadGunHam } from '../helpers/gun.js';
import { seedFromEnv } from '../helpers/seed.js';
import fc from 'fast-check';
import { ham, type Decision } from '../../src/index.js';

/** The values the random vectors use: GUN's scalar types. */
type GunValue = null | boolean | number | string;

const gunHam = loadGunHam();

const SEED = seedFromEnv(0x6a11a9e);
const RUNS = 25_000;

/** GUN's HAM, answered in hamsync's vocabulary. Throws on GUN's {err} (which valid input never gives). */
function gunDecision(machine: number, inState: number, curState: number, inValue: GunValue, curValue: GunValue): Decision {
  const r = gunHam(machine, inState, curState, inValue, curValue);
  if (r.err !== undefined) throw new Error(`GUN HAM error: ${r.err}`);
  if (r.defer) return 'defer';
  if (r.historical) return 'historical';
  if (r.converge && r.incoming) return 'apply';
  if (r.converge && r.current) return 'historical';
  if (r.state) return 'same';
  throw new Error(`unexpected GUN HAM result ${JSON.stringify(r)}`);
}

describe('hamsync ham vs GUN HAM', () => {
  test('GUN\'s HAM behaves as this test assumes (talk cases)', () => {
    assert.equal(gunDecision(10, 5, 5, 'Hello Mars', 'Hello Earth'), 'apply');
    assert.equal(gunDecision(10, 5, 5, 'Hello Earth', 'Hello Mars'), 'historical');
    assert.equal(gunDecision(5, 3, 3, 'm', 'm'), 'same');
    assert.equal(gunDecision(5, 2, 3, 'z', 'm'), 'historical');
    assert.equal(gunDecision(5, 4, 3, 'a', 'm'), 'apply');
    assert.equal(gunDecision(5, 5, 3, 'a', 'm'), 'apply');
    assert.equal(gunDecision(5, 5.0001, 3, 'a', 'm'), 'defer');
    assert.equal(gunDecision(100, 1, 1, 9, 10), 'apply');
    assert.equal(gunDecision(100, 1, 1, -0, 0), 'same');
    // Without a current value GUN gives {err}; hamsync applies. (So the random vectors always carry one.)
    assert.ok(gunHam(5, 4, undefined as unknown as number, 'x', undefined as unknown as GunValue).err);
    assert.equal(ham(5, { state: 4, value: 'x' }), 'apply');
  });

  test(`${RUNS} random vectors decide one-for-one like GUN (seed ${SEED})`, (t) => {
    // States from a small set, so equal states (ties) and machine-state boundaries are common.
    const STATES = [-1, -0, 0, 1, 2, 2.5, 3, 1_700_000_000_000, 1_700_000_000_000 + 1 / 1024];
    const state = fc.constantFrom(...STATES);

    const numericText = fc.oneof(
      fc.integer({ min: -1000, max: 1000 }).map(String),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map(String),
      fc.constantFrom('0', '-0', '9', '10', '1e21', '0.1', ' 1', '1 ', 'NaN', 'Infinity', 'true', 'false', 'null'),
    );
    const char = fc.oneof(
      fc.constantFrom('"', '\\', '!', ' ', '-', '0', '9', 'a', 'z', 'A', 'é', '\u{1F600}', '\uffff', '\u2028', '\n'),
      fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
      fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c)),
    );
    const value: fc.Arbitrary<GunValue> = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.constantFrom(0, -0, 1, -1, 9, 10, 0.5, 1e21, -1e-7, 5e-324, Number.MAX_VALUE, -Number.MAX_VALUE, Number.MAX_SAFE_INTEGER),
      fc.integer({ min: -20, max: 20 }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.constantFrom('', 'Hello Mars', 'Hello Earth', 'Hello', 'Hello!', 'hello', 'é', 'e\u0301', '\u{1F600}', '\ud800', '"', '\\'),
      numericText,
      fc.string({ unit: char, maxLength: 6 }),
      fc.string({ unit: 'grapheme', maxLength: 4 }),
    );
    // How the incoming value relates to the current one: drawn independently, equal (so
    // 'same' is common), or 0 against -0 (equal JSON text, different JS values).
    const vector = fc.record({
      machine: state,
      inState: state,
      curState: state,
      curValue: value,
      inValue: value,
      relation: fc.constantFrom('independent', 'independent', 'equal', 'signed-zero'),
      flip: fc.boolean(),
      // Half the vectors put the incoming update at exactly the current state (a tie).
      tie: fc.boolean(),
    });

    const counts = new Map<string, number>();
    const bump = (key: string): void => {
      counts.set(key, (counts.get(key) ?? 0) + 1);
    };

    fc.assert(
      fc.property(vector, ({ machine, inState, curState: drawnState, curValue: drawnCurrent, inValue: drawnIncoming, relation, flip, tie }) => {
        const curState = tie ? inState : drawnState;
        let inValue = drawnIncoming;
        let curValue = drawnCurrent;
        if (relation === 'equal') inValue = curValue;
        if (relation === 'signed-zero') [inValue, curValue] = flip ? [-0, 0] : [0, -0];
        const want = gunDecision(machine, inState, curState, inValue, curValue);
        const got = ham(machine, { state: inState, value: inValue }, { state: curState, value: curValue });
        assert.equal(got, want, `ham(${machine}, {${inState}, ${JSON.stringify(inValue)}}, {${curState}, ${JSON.stringify(curValue)}})`);
        bump(got);
        if (inState === curState && inState <= machine && got !== 'same') bump(`tie-${got}`);
        if (got === 'same' && !Object.is(inValue, curValue)) bump('same-signed-zero');
      }),
      { seed: SEED, numRuns: RUNS },
    );

    t.diagnostic(`decisions: ${JSON.stringify(Object.fromEntries(counts))}`);
    const total = [...counts].filter(([k]) => !k.includes('-')).reduce((n, [, c]) => n + c, 0);
    assert.equal(total, RUNS, `every run counted once: ${JSON.stringify(Object.fromEntries(counts))}`);
    // Every branch must be hit often: the test cannot pass vacuously.
    const minimum = Math.floor(RUNS / 25);
    for (const key of ['defer', 'historical', 'apply', 'same', 'tie-apply', 'tie-historical', 'same-signed-zero']) {
      const n = counts.get(key) ?? 0;
      assert.ok(n >= minimum, `decision ${key} occurred ${n} times, expected at least ${minimum}: ${JSON.stringify(Object.fromEntries(counts))}`);
    }
  });
});
