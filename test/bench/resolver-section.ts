/**
 * The `resolver` section of `npm run bench`: hamsync's `ham` and `hamCanonical` against GUN's HAM
 * on the same vectors, in alternating passes (GUN, ham, hamCanonical, rotating the order each
 * round), so load drift on a shared machine hits all three alike. Rows show the median and the
 * spread (min–max) of the passes; the ratio is of the medians.
 */
import { disagreements, loadGun, makeVectors, measureAlternating, runGun, runHam, runHamCanonical } from './resolver.js';
import { median, minMax, type SectionRow } from './stats.js';

const REPS = 7;
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function benchResolver(scale: number, rows: SectionRow[], notes: string[]): void {
  const vectors = Math.round(250_000 * scale);
  const mixes = [
    { label: 'primitives', objects: 0, seed: 42 },
    { label: '30% objects', objects: 0.3, seed: 43 },
  ];
  // GUN patches globals when loaded: load it first, so every pass (ours and its) runs in the same process state.
  loadGun();
  let differ = 0;
  for (const m of mixes) {
    gc();
    const v = makeVectors(vectors, m.objects, m.seed);
    const outs = [new Uint8Array(v.n), new Uint8Array(v.n), new Uint8Array(v.n)];
    const [gun, ours, canon] = measureAlternating([runGun, runHam, runHamCanonical], v, outs, REPS) as [number[], number[], number[]];
    const diff = disagreements(outs[0] as Uint8Array, outs[1] as Uint8Array) + disagreements(outs[0] as Uint8Array, outs[2] as Uint8Array);
    differ += diff;
    if (diff > 0) notes.push(`WARNING: ${diff} decisions differ from GUN on the ${m.label} vectors`);
    const section = `resolver, ${m.label} (decisions/s; median (min–max) of ${REPS} alternating passes)`;
    const vsGun = (xs: number[]): string => `${(median(xs) / median(gun)).toFixed(2)}x GUN (${minMax(xs, fmt)})`;
    rows.push({ section, what: 'GUN HAM (gun@0.2020.1232)', rate: fmt(median(gun)), vs: `1.00x (${minMax(gun, fmt)})` });
    rows.push({ section, what: 'ham (values)', rate: fmt(median(ours)), vs: vsGun(ours) });
    rows.push({ section, what: 'hamCanonical (canonical texts)', rate: fmt(median(canon)), vs: vsGun(canon) });
  }
  notes.push(
    `resolver: ${fmt(vectors)} vectors per mix (10% future, 30% equal state, 30% newer, 30% older); argument objects built before timing; ` +
      `a warm-up pass each, then ${REPS} rounds of one pass each, alternating and rotating the order; GUN loaded before any pass; ` +
      `decisions identical to GUN's: ${differ === 0 ? 'yes, all' : `NO (${differ} differ)`}.`,
  );
}
