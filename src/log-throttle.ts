/**
 * Keeps a flood of identical warnings (one client sending thousands of bad messages) from
 * flooding the log: at most one line per key per interval, the next line saying how many were
 * suppressed in between. Counters still count every event; only the log lines are thinned.
 */
export class LogThrottle {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly intervalMs = 1000,
    private readonly now: () => number = () => performance.now(),
    private readonly maxKeys = 10_000,
  ) {}

  /** undefined: stay quiet; otherwise log now, with the number of lines suppressed since the last one. */
  take(key: string): { suppressed: number } | undefined {
    const t = this.now();
    const e = this.last.get(key);
    if (e && t - e.at < this.intervalMs) {
      e.suppressed++;
      return undefined;
    }
    if (!e && this.last.size >= this.maxKeys) this.last.clear();
    this.last.set(key, { at: t, suppressed: 0 });
    return { suppressed: e?.suppressed ?? 0 };
  }
}

/** The log field saying how many lines the throttle held back since the last one (none if 0). */
export function suppressedField(line: { suppressed: number }): { suppressedSinceLast?: number } {
  return line.suppressed ? { suppressedSinceLast: line.suppressed } : {};
}
