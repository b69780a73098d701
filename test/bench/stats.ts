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
