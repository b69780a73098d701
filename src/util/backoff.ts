/** Exponential backoff with jitter for reconnects: min, 2·min, 4·min, ... up to max, each ±20 %. */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The delay before the next attempt, in ms. */
  next(): number {
    const base = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.round(Math.min(this.maxMs, base * (0.8 + 0.4 * this.random())));
  }

  /** How many delays were handed out since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** Back to `min` (after a connection that worked). */
  reset(): void {
    this.attempt = 0;
  }
}
