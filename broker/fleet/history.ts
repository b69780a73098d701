/** Seconds between two skew samples of the history. */
export const HISTORY_STEP_MS = 10_000;
/** Samples kept: one hour at HISTORY_STEP_MS. */
export const HISTORY_SLOTS = 360;

/**
 * Skew over time, for the dashboard: every step, one sample (seconds, or null) per device, in a
 * ring of `slots` steps. Memory: 8 bytes per device and slot (about 2.9 MB at 1,000 devices).
 */
export class SkewHistory {
  private readonly times: number[] = [];
  private readonly series = new Map<string, Float64Array>();
  /** Index of the next slot to write. */
  private next = 0;
  private filled = 0;

  constructor(readonly slots = HISTORY_SLOTS) {}

  /** Records one sample per device at hub time `t` (devices absent from `values` get null). */
  sample(t: number, values: Iterable<[string, number | null]>): void {
    const i = this.next;
    this.times[i] = t;
    for (const s of this.series.values()) s[i] = Number.NaN;
    for (const [id, v] of values) {
      let s = this.series.get(id);
      if (!s) this.series.set(id, (s = new Float64Array(this.slots).fill(Number.NaN)));
      s[i] = v ?? Number.NaN;
    }
    this.next = (i + 1) % this.slots;
    this.filled = Math.min(this.slots, this.filled + 1);
  }

  /** Oldest first: the sample times and, per device, its samples (null where it had none). */
  view(): { t: number[]; series: Record<string, (number | null)[]> } {
    const order: number[] = [];
    const start = this.filled < this.slots ? 0 : this.next;
    for (let k = 0; k < this.filled; k++) order.push((start + k) % this.slots);
    const series: Record<string, (number | null)[]> = {};
    for (const [id, s] of this.series) series[id] = order.map((i) => (Number.isNaN(s[i] as number) ? null : (s[i] as number)));
    return { t: order.map((i) => this.times[i] as number), series };
  }
}
