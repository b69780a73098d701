import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Counters } from '../counters.js';
import type { Route } from './http-kit.js';
import { lazyMetricsRoute } from './lazy-metrics.js';

/**
 * Prometheus metrics for the admin APIs (docs/metrics.md). Each server has its own Registry
 * (never prom-client's global one), so several brokers and daemons in one process (tests, the
 * demo) do not collide. Values are read at scrape time from the counters and status the program
 * keeps anyway; only latency histograms are observed on the hot path.
 */
export function newRegistry(): Registry {
  const registry = new Registry();
  // The standard process and Node.js metrics (process_cpu_seconds_total, nodejs_eventloop_lag_seconds, ...), unprefixed as exporters name them.
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** GET /metrics: the registry in the Prometheus text format (0.0.4). */
export function metricsRoute(registry: Registry): Route {
  return lazyMetricsRoute(() => Promise.resolve(registry));
}

/**
 * A labelled counter read from named Counters at scrape time: every counter named
 * `<prefix><value>` becomes `name{<label>="<value>"}` (e.g. `rejected.HAMSYNC_ERR_TOPIC` ->
 * `hamsync_messages_rejected_total{code="HAMSYNC_ERR_TOPIC"}`). `fixed` values are always shown (0 until counted).
 */
export function countersFamily(registry: Registry, name: string, help: string, label: string, prefix: string, sources: () => Counters[], fixed: readonly string[] = []): void {
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset();
      const values = new Map<string, number>(fixed.map((v) => [v, 0]));
      for (const c of sources()) {
        for (const [k, v] of Object.entries(c.snapshot())) {
          if (!k.startsWith(prefix)) continue;
          const value = k.slice(prefix.length);
          if (value === '') continue;
          values.set(value, (values.get(value) ?? 0) + v);
        }
      }
      for (const [value, v] of values) this.inc({ [label]: value }, v);
    },
  });
}

/** An unlabelled counter read at scrape time (a running total kept elsewhere). */
export function counterOf(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/** The sum of named Counters over `sources` (missing ones count 0). */
export function sumOf(sources: () => Counters[], ...names: string[]): () => number {
  return () => {
    let sum = 0;
    for (const c of sources()) for (const n of names) sum += c.get(n);
    return sum;
  };
}

/** A gauge read at scrape time; `read` returns undefined when there is nothing to report (no sample). */
export function gaugeOf(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      const v = read();
      if (v !== undefined && Number.isFinite(v)) this.set(v);
    },
  });
}

/** A gauge (or counter) with one label, read at scrape time as [labelValue, value] pairs (null values are left out). */
export function labelled(registry: Registry, kind: 'gauge' | 'counter', name: string, help: string, label: string, read: () => Iterable<[string, number | null]>): void {
  const config = { name, help, labelNames: [label], registers: [registry] };
  if (kind === 'gauge') {
    new Gauge({ ...config, collect() {
      this.reset();
      for (const [k, v] of read()) if (v !== null && Number.isFinite(v)) this.set({ [label]: k }, v);
    } });
  } else {
    new Counter({ ...config, collect() {
      this.reset();
      for (const [k, v] of read()) if (v !== null && Number.isFinite(v)) this.inc({ [label]: k }, v);
    } });
  }
}

/** A value computed at most once per `ms` (several metrics of one scrape share one snapshot). */
export function cached<T>(ms: number, make: () => T): () => T {
  let at = -Infinity;
  let value: T | undefined;
  return () => {
    const now = performance.now();
    if (now - at > ms || value === undefined) {
      value = make();
      at = now;
    }
    return value;
  };
}
