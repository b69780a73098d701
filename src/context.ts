import { Counters } from './counters.js';
import { silentLogger, type Logger } from './log.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from './wire/codec.js';

/**
 * What the parts of one program share (the hub inside the broker, the device daemon), passed
 * whole instead of positional `(counters, log, ...)` parameters.
 */
export interface Context {
  /** The namespace served (broker) or joined (daemon). */
  readonly ns: string;
  readonly log: Logger;
  /** The program's counters, reported by its status endpoints. */
  readonly counters: Counters;
  /** Monotonic milliseconds, for timeouts and rates (performance.now; a test may pass its own). */
  readonly clock: () => number;
  /** Bounds on MQTT payloads (src/wire/codec.ts). */
  readonly limits: WireLimits;
}

/** A context with the defaults for what is not given: namespace "default", a silent logger, fresh counters. */
export function createContext(given: Partial<Context> = {}): Context {
  return {
    ns: given.ns ?? 'default',
    log: given.log ?? silentLogger,
    counters: given.counters ?? new Counters(),
    clock: given.clock ?? (() => performance.now()),
    limits: given.limits ?? DEFAULT_WIRE_LIMITS,
  };
}
