/**
 * Resolver micro-benchmark: hamsync's `ham` (values) and `hamCanonical` (pre-canonicalised
 * texts) against GUN's HAM, over the same pre-generated vectors.
 */
import { prng } from '../helpers/seed.js';
import { loadGunHam, type GunHam, type GunHamResult } from '../helpers/gun.js';
import { canonical, ham, hamCanonical, type Decision, type Json } from '../../src/index.js';


export interface Vectors {
  readonly n: number;
  readonly machine: Float64Array;
  readonly inState: Float64Array;
  readonly curState: Float64Array;
  readonly inValue: Json[];
  readonly curValue: Json[];
  /** The same, as hamsync's argument objects (built once, outside the timed loop). */
  readonly inStamped: { state: number; value: Json }[];
  readonly curStamped: { state: number; value: Json }[];
  readonly inCanon: { state: number; text: string }[];
  readonly curCanon: { state: number; text: string }[];
}


/**
 * Telemetry-like vectors: 10% from the future (defer), 30% at the current state (half of those
 * with an equal value), 30% newer, 30% older. `objectShare` of the values are small objects
 * (keys already in sorted order, so GUN's JSON.stringify equals our canonical form); the rest
 * are numbers, short strings, booleans and null: the primitives GUN's HAM is written for.
 */
export function makeVectors(n: number, objectShare: number, seed: number): Vectors {
  const rand = prng(seed);
  const value = (): Json => {
    const r = rand();
    if (r < objectShare) return { u: rand() < 0.5 ? 'C' : 'F', v: Math.round(rand() * 1000) / 10 };
    const p = rand();
    if (p < 0.55) return Math.round(rand() * 10000) / 100;
    if (p < 0.8) return `s${Math.floor(rand() * 50)}`;
    if (p < 0.95) return rand() < 0.5;
    return null;
  };
  const v: Vectors = {
    n,
    machine: new Float64Array(n),
    inState: new Float64Array(n),
    curState: new Float64Array(n),
    inValue: [],
    curValue: [],
    inStamped: [],
    curStamped: [],
    inCanon: [],
    curCanon: [],
  };
  for (let i = 0; i < n; i++) {
    const machine = 1.7e12 + i;
    const cur = machine - 1 - Math.floor(rand() * 5000);
    const r = rand();
    let inc: number;
    let inVal = value();
    const curVal = value();
    if (r < 0.1) inc = machine + 1 + Math.floor(rand() * 5000);
    else if (r < 0.4) {
      inc = cur;
      if (rand() < 0.5) inVal = structuredClone(curVal);
    } else if (r < 0.7) inc = cur + 1 + Math.floor(rand() * (machine - cur));
    else inc = cur - 1 - Math.floor(rand() * 5000);
    v.machine[i] = machine;
    v.inState[i] = inc;
    v.curState[i] = cur;
    v.inValue.push(inVal);
    v.curValue.push(curVal);
    v.inStamped.push({ state: inc, value: inVal });
    v.curStamped.push({ state: cur, value: curVal });
    v.inCanon.push({ state: inc, text: canonical(inVal) });
    v.curCanon.push({ state: cur, text: canonical(curVal) });
  }
  return v;
}

const CODE: Record<Decision, number> = { defer: 0, historical: 1, apply: 2, same: 3 };

function gunCode(r: GunHamResult): number {
  if (r.defer) return 0;
  if (r.historical) return 1;
  if (r.converge) return r.incoming ? 2 : 1;
  if (r.state) return 3;
  return 9;
}

export type Runner = (v: Vectors, out: Uint8Array) => void;

export const runHam: Runner = (v, out) => {
  for (let i = 0; i < v.n; i++) out[i] = CODE[ham(v.machine[i] as number, v.inStamped[i] as { state: number; value: Json }, v.curStamped[i])];
};

export const runHamCanonical: Runner = (v, out) => {
  for (let i = 0; i < v.n; i++) out[i] = CODE[hamCanonical(v.machine[i] as number, v.inCanon[i] as { state: number; text: string }, v.curCanon[i])];
};

let gunHam: GunHam | undefined;

/** Loads GUN (prints its banner, patches globals); ours and GUN's then run in the same, patched process. */
export function loadGun(): void {
  gunHam = loadGunHam();
}

export const runGun: Runner = (v, out) => {
  const h = gunHam;
  if (!h) throw new Error('loadGun() first');
  for (let i = 0; i < v.n; i++) {
    out[i] = gunCode(h(v.machine[i] as number, v.inState[i] as number, v.curState[i] as number, v.inValue[i] as Json, v.curValue[i] as Json));
  }
};

/**
 * Decisions/s of each runner over `reps` rounds, the runners alternating within a round (and the
 * order rotating round by round), after one warm-up pass each; the decisions of each runner's last
 * pass land in its `outs` entry. Returns every pass's rate, per runner.
 */
export function measureAlternating(runners: readonly Runner[], v: Vectors, outs: readonly Uint8Array[], reps: number): number[][] {
  runners.forEach((run, i) => run(v, outs[i] as Uint8Array));
  const rates = runners.map(() => [] as number[]);
  for (let r = 0; r < reps; r++) {
    for (let j = 0; j < runners.length; j++) {
      const i = (j + r) % runners.length;
      const t = process.hrtime.bigint();
      (runners[i] as Runner)(v, outs[i] as Uint8Array);
      const s = Number(process.hrtime.bigint() - t) / 1e9;
      (rates[i] as number[]).push(v.n / s);
    }
  }
  return rates;
}

/** How many decisions differ between two passes (should be 0: same vectors, same algorithm). */
export function disagreements(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}
