import { parseGpsTime } from '../../devices/index.js';
import type { Context } from '../context.js';
import { HamsyncError } from '../errors.js';
import type { ClockReference } from '../ham/clock.js';

/** Where a reference time came from. */
export type ReferenceSource = 'hub' | 'gps';

/** Why stamping is refused: the clock reads too far ahead, or its high-water mark (or an earlier reading) holds stamps up there. */
export type AheadCause = 'clock' | 'high-water';

/** The clock being judged (the daemon's wall clock, bound after it was built). */
export interface JudgedClock {
  /** Its own reading (offset and drift applied). */
  reading(): number;
  /** The machine state: at least every stamp given (the high-water mark). */
  now(): number;
}

export interface ClockGuardStatus {
  state: 'no-reference' | 'ok' | 'ahead';
  maxAheadMs: number;
  /** The reference time now (ms since the epoch), or null. */
  reference: number | null;
  /** The clock's reading minus the reference (> 0: ahead), or null. */
  aheadMs: number | null;
  /** While `ahead`: what is ahead, and since when (system clock ms). */
  cause: AheadCause | null;
  since: number | null;
  /** Per source: observations taken and the last one's reference time. */
  sources: Partial<Record<ReferenceSource, { observations: number; last: number }>>;
}

/**
 * The daemon's clock-sanity guard (issue 14 item 14). It learns a reference time from the hub's
 * clock (`t` of catch-up answers and v2 pages) and from GPS, each observation anchored to the
 * monotonic clock, and keeps the most advanced one (a late-delivered message only makes an
 * observation look older, never newer). While the daemon's clock, or the stamp it would give,
 * is more than `maxAheadMs` ahead of that reference, stamping is refused with HAMSYNC_ERR_CLOCK
 * (HTTP 503) instead of raising the persisted high-water mark, and the wall clock's machine
 * state follows the reference. Alerts: `status().clockGuard`, one log line per change, counters
 * `clock.ahead` (times it went ahead) and `clock.refused` (refused stamps).
 */
export class ClockGuard implements ClockReference {
  /** Most advanced (reference - monotonic) seen, ms. */
  private offset: number | undefined;
  private readonly sources: ClockGuardStatus['sources'] = {};
  private clock: JudgedClock | undefined;
  private ahead: { cause: AheadCause; since: number } | undefined;

  constructor(
    private readonly ctx: Context,
    readonly maxAheadMs: number,
  ) {}

  /** The clock to judge (for status and for alerts outside of stamping). */
  bind(clock: JudgedClock): void {
    this.clock = clock;
  }

  /** A reference time: `referenceMs` was the time at monotonic time `monotonicMs`. Bad values are ignored. */
  observe(referenceMs: number, monotonicMs: number, source: ReferenceSource): void {
    if (!Number.isFinite(referenceMs) || !Number.isFinite(monotonicMs) || referenceMs <= 0) return;
    const offset = referenceMs - monotonicMs;
    const first = this.offset === undefined;
    if (first || offset > (this.offset as number)) this.offset = offset;
    const s = (this.sources[source] ??= { observations: 0, last: 0 });
    s.observations++;
    s.last = referenceMs;
    this.ctx.counters.inc(`clock.reference.${source}`);
    if (first) this.ctx.log.info('clock guard has a reference time', { source, reference: new Date(referenceMs).toISOString(), maxAheadMs: this.maxAheadMs });
    this.assess();
  }

  now(): number | undefined {
    return this.offset === undefined ? undefined : this.ctx.clock() + this.offset;
  }

  checkStamp(reading: number, next: number): void {
    const cause = this.judge(reading, next);
    if (cause === undefined) return;
    this.ctx.counters.inc('clock.refused');
    const ref = this.now() as number;
    const what = cause === 'clock' ? `the clock reads ${iso(reading)}, ${Math.round(reading - ref)} ms` : `the next stamp would be ${iso(next)} (the clock's high-water mark: stamps never go back below it), ${Math.round(next - ref)} ms`;
    const fix = cause === 'clock' ? 'local puts are refused until the clock is sane again' : 'wait until real time passes it, or stop the daemon and run `hamsync clock reset --data-dir DIR` (docs/clock-guard.md)';
    throw new HamsyncError('HAMSYNC_ERR_CLOCK', `${what} ahead of the reference time ${iso(ref)} (hub/GPS), over maxClockAhead ${this.maxAheadMs} ms: ${fix}; nothing was stored`, { cause, aheadMs: Math.round(Math.max(reading, next) - ref) });
  }

  /** Re-judges the clock every `everyMs` (so the alert does not wait for a put); returns the stop function. */
  watch(everyMs: number): () => void {
    const timer = setInterval(() => this.assess(), everyMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  /** Judges the bound clock now: updates the alert state (and logs a change). */
  assess(): void {
    if (this.clock) this.judge(this.clock.reading(), this.clock.now());
  }

  status(): ClockGuardStatus {
    this.assess();
    const ref = this.now();
    const reading = this.clock?.reading();
    return {
      state: ref === undefined ? 'no-reference' : this.ahead ? 'ahead' : 'ok',
      maxAheadMs: this.maxAheadMs,
      reference: ref === undefined ? null : Math.round(ref),
      aheadMs: ref === undefined || reading === undefined ? null : Math.round(reading - ref),
      cause: this.ahead?.cause ?? null,
      since: this.ahead?.since ?? null,
      sources: structuredClone(this.sources),
    };
  }

  /** What is too far ahead (undefined: nothing, or no reference); logs and counts a change of state. */
  private judge(reading: number, next: number): AheadCause | undefined {
    const ref = this.now();
    if (ref === undefined) return undefined;
    const cause: AheadCause | undefined = reading - ref > this.maxAheadMs ? 'clock' : next - ref > this.maxAheadMs ? 'high-water' : undefined;
    if (cause !== this.ahead?.cause) {
      if (cause) {
        this.ctx.counters.inc('clock.ahead');
        this.ctx.log.error('clock far ahead of the reference time: local puts are refused (HAMSYNC_ERR_CLOCK)', { cause, reading: iso(reading), next: iso(next), reference: iso(ref), aheadMs: Math.round(Math.max(reading, next) - ref), maxAheadMs: this.maxAheadMs });
      } else {
        this.ctx.log.warn('clock sane again: local puts are stamped again', { reading: iso(reading), reference: iso(ref), aheadMs: Math.round(reading - ref) });
      }
      this.ahead = cause ? { cause, since: Date.now() } : undefined;
    }
    return cause;
  }
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

/** The GPS time in a gpsd source's batch (`<prefix>/gps/time`), if there is one. */
export function gpsTimeOf(readings: readonly { key: string; value: unknown }[]): number | undefined {
  for (const r of readings) if (r.key.endsWith('/gps/time') || r.key === 'gps/time') return parseGpsTime(r.value);
  return undefined;
}
