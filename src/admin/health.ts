import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { send, type Route } from './http-kit.js';

/** /healthz answers 503 when the event loop was held up longer than this (ms) since the previous probe. */
export const LIVENESS_MAX_DELAY_MS = 5000;

/** One readiness check: its name, whether it passes, and why (for the operator). */
export interface Check {
  name: string;
  ok: boolean;
  reason: string;
  /** A failing soft check leaves the process serving: /readyz answers 200 "degraded", not 503. */
  soft?: boolean;
}

/**
 * Liveness and readiness (docs/metrics.md):
 *   GET /healthz  200 {"status":"ok","eventLoopDelayMs":{mean,p99,max}} while the process and its event
 *                 loop run; 503 "stalled" when the loop was held up over LIVENESS_MAX_DELAY_MS since the last probe
 *   GET /readyz   200 {"status":"ready","checks":[...]} when every check passes, else 503
 *                 {"status":"not-ready","reason":<the failed checks' reasons>,"checks":[...]}; when only
 *                 soft checks fail (a cluster node cut off from Redis still serves its clients): 200
 *                 {"status":"degraded","reason":...,"checks":[...]}
 * The event-loop delay is measured by a perf_hooks histogram (20 ms resolution) reset at each probe.
 */
export class Health {
  private readonly delay: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });

  constructor(private readonly checks: () => Promise<Check[]>) {
    this.delay.enable();
  }

  routes(): Route[] {
    return [
      { method: 'GET', path: '/healthz', handle: ({ res }) => this.live(res) },
      {
        method: 'GET',
        path: '/readyz',
        handle: async ({ res }) => {
          const checks = await this.checks();
          const failed = checks.filter((c) => !c.ok);
          if (failed.length === 0) return send(res, 200, { status: 'ready', checks });
          const reason = failed.map((c) => `${c.name}: ${c.reason}`).join('; ');
          if (failed.every((c) => c.soft === true)) return send(res, 200, { status: 'degraded', reason, checks });
          send(res, 503, { status: 'not-ready', reason: failed.map((c) => `${c.name}: ${c.reason}`).join('; '), checks });
        },
      },
    ];
  }

  stop(): void {
    this.delay.disable();
  }

  private live(res: Parameters<Route['handle']>[0]['res']): void {
    const ms = (ns: number): number => Math.round((Number.isFinite(ns) ? ns : 0) / 1e4) / 100;
    const d = this.delay.count > 0 ? { mean: ms(this.delay.mean), p99: ms(this.delay.percentile(99)), max: ms(this.delay.max) } : { mean: 0, p99: 0, max: 0 };
    this.delay.reset();
    const stalled = d.max > LIVENESS_MAX_DELAY_MS;
    send(res, stalled ? 503 : 200, { status: stalled ? 'stalled' : 'ok', eventLoopDelayMs: d, pid: process.pid, ...(stalled ? { reason: `the event loop was held up ${d.max} ms (limit ${LIVENESS_MAX_DELAY_MS} ms)` } : {}) });
  }
}

/** A check that passes unless `probe` throws (or rejects); the error's message is the reason. */
export async function check(name: string, okReason: string, probe: () => unknown): Promise<Check> {
  try {
    await probe();
    return { name, ok: true, reason: okReason };
  } catch (err) {
    return { name, ok: false, reason: (err as Error).message };
  }
}
