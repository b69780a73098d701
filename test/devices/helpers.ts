/** Shared helpers of the devices/ tests: fixture paths, a batch collector, a recording logger. */
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../src/log.js';
import type { Reading } from '../../devices/index.js';
import { until } from '../helpers/wait.js';

/** test/fixtures/ in the source tree (these tests run from dist/test/devices/). */
export const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

/** devices/profiles/ in the source tree. */
export const PROFILES = fileURLToPath(new URL('../../../devices/profiles/', import.meta.url));

/** One emitted batch and when it arrived. */
export interface Batch {
  at: number;
  readings: Reading[];
}

/** Collects what a source emits; `emit` is the callback to hand to `start`. */
export class Collector {
  readonly batches: Batch[] = [];
  readonly emit = (readings: Reading[]): void => {
    this.batches.push({ at: Date.now(), readings });
  };

  /** The value of `key` in each batch that has it, in order. */
  values(key: string): unknown[] {
    return this.batches.flatMap((b) => b.readings.filter((r) => r.key === key).map((r) => r.value));
  }

  /** A batch as a key → value map (suffix after the prefix). */
  static map(batch: Batch, prefix: string): Map<string, unknown> {
    return new Map(batch.readings.map((r) => [r.key.slice(prefix.length + 1), r.value]));
  }

  /** Waits until `pred()` is true; fails with `what` and the batches so far after `timeoutMs`. */
  async until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    try {
      await until(pred, { what, timeoutMs, intervalMs: 20 });
    } catch (err) {
      const tail = JSON.stringify(this.batches.slice(-5).map((b) => b.readings));
      throw new Error(`${(err as Error).message}; ${this.batches.length} batches, last ones: ${tail.slice(0, 1500)}`, { cause: err });
    }
  }
}

/** One log call a RecordingLogger saw. */
export interface LogEntry {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** A Logger that keeps every entry (set HAMSYNC_TEST_LOG=1 to also print them). */
export function recordingLogger(entries: LogEntry[] = [], base: Record<string, unknown> = {}): Logger & { entries: LogEntry[] } {
  const at = (level: LogEntry['level']) => (msg: string, fields: Record<string, unknown> = {}) => {
    const entry = { level, msg, fields: { ...base, ...fields } };
    entries.push(entry);
    if (process.env.HAMSYNC_TEST_LOG === '1') console.error(JSON.stringify(entry));
  };
  return {
    entries,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => recordingLogger(entries, { ...base, ...fields }),
  };
}
