/**
 * The clock-skew estimate of one device, from what the hub sees: for each put message, the
 * newest state in it against the hub's clock when it arrived (a sample `state - rx`, in ms).
 *
 * A device whose clock is `o` ms ahead of the hub stamps an update `state = sent + o` (hub time
 * `sent`); it arrives at `rx = sent + delay`, so `state - rx = o - delay <= o`. Link and queueing
 * delay only ever lower a sample: the largest samples are the closest to `o`. The estimate is a
 * high quantile (SKEW_QUANTILE) of the window rather than its maximum, so one stray update
 * (an app putting an explicit future state) cannot move it alone.
 *
 * Replayed data (an outbox backlog after an outage, an import) carries old states: its samples
 * are far below zero. Those below -LIVE_LAG_MS are not "live" and never enter the window, so a
 * device replaying old data is not reported as behind. The price: a clock more than
 * LIVE_LAG_MS behind the hub cannot be told from replay, and shows no estimate (null).
 * Pure: no clock, no I/O.
 */

/** Samples kept per device (the newest ones). */
export const SKEW_WINDOW = 64;
/** Samples older than this (ms, receive time) are dropped from the window: a changed clock shows within it. */
export const SKEW_MAX_AGE_MS = 10 * 60_000;
/** The quantile of `state - rx` taken as the estimate (near the maximum, which absorbs delay). */
export const SKEW_QUANTILE = 0.9;
/** A sample further in the past than this (state older than receive time by more, ms) is replay, not live. */
export const LIVE_LAG_MS = 5 * 60_000;

/** Whether a sample (`state - rx`, ms) counts as live: not replayed old data. */
export function isLiveSample(deltaMs: number): boolean {
  return Number.isFinite(deltaMs) && deltaMs >= -LIVE_LAG_MS;
}

/**
 * The estimate (seconds) from samples of `state - rx` (ms): the SKEW_QUANTILE quantile of the
 * live ones (nearest rank), or null when there is none.
 */
export function estimateSkew(samplesMs: readonly number[], quantile = SKEW_QUANTILE): number | null {
  const live = samplesMs.filter(isLiveSample).sort((a, b) => a - b);
  if (live.length === 0) return null;
  const rank = Math.min(live.length - 1, Math.max(0, Math.ceil(quantile * live.length) - 1));
  // Whole ms: stamps may carry fractions of a ms (a drifting clock).
  return Math.round(live[rank] as number) / 1000;
}

/** A bounded window of one device's live samples: at most SKEW_WINDOW, none older than SKEW_MAX_AGE_MS. */
export class SkewWindow {
  private readonly deltas: number[] = [];
  private readonly at: number[] = [];

  /** Adds a sample (state of the message's newest update, hub receive time, ms); replay is ignored. Returns whether it counted. */
  add(state: number, rx: number): boolean {
    const delta = state - rx;
    if (!isLiveSample(delta)) return false;
    this.deltas.push(delta);
    this.at.push(rx);
    if (this.deltas.length > SKEW_WINDOW) {
      this.deltas.shift();
      this.at.shift();
    }
    return true;
  }

  /** The estimate in seconds over the samples received since `now - SKEW_MAX_AGE_MS`, or null. */
  estimate(now: number): number | null {
    while (this.at.length > 0 && (this.at[0] as number) < now - SKEW_MAX_AGE_MS) {
      this.at.shift();
      this.deltas.shift();
    }
    return estimateSkew(this.deltas);
  }

  get size(): number {
    return this.deltas.length;
  }
}
