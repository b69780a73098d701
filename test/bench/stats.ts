/** Small statistics for the bench's repeated runs: the median and the spread (min–max). */

/** The median of `xs` (the upper middle of an even count); NaN when empty. */
export function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** `min–max` of `xs`, each shown with `show`. */
export function minMax(xs: number[], show: (n: number) => string): string {
  if (xs.length === 0) return 'n/a';
  return `${show(Math.min(...xs))}–${show(Math.max(...xs))}`;
}

/** Runs of each side of a pair (HAMSYNC_BENCH_RUNS, default 3); anything but a positive integer is an error naming the value. */
export function benchRuns(): number {
  const text = process.env.HAMSYNC_BENCH_RUNS ?? '';
  if (text === '') return 3;
  const runs = Number(text);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`HAMSYNC_BENCH_RUNS must be a positive integer, got ${JSON.stringify(text)}`);
  return runs;
}

/** `median (min–max)` of `xs`, each shown with `show`. */
export function spread(xs: number[], show: (n: number) => string): string {
  return `${show(median(xs))} (${minMax(xs, show)})`;
}

/** One printed row of the bench table: its section (the header it goes under), what was measured, the figure, and the comparison. */
export interface SectionRow {
  section: string;
  what: string;
  rate: string;
  vs: string;
}
