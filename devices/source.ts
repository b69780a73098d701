/**
 * The contract between a telemetry source and the device daemon.
 *
 * A source produces batches of readings; the daemon turns each batch into one
 * `Daemon.put(...)` call. A reading without a `state` is stamped by the daemon's own clock
 * (the usual case); a reading with a `state` carries its own HAM state (ms since the epoch),
 * e.g. the GPS time of a fix, and HAM defers it if that state is in the daemon's future.
 */
import type { Json } from '../src/ham/lexical.js';

/** One value for one key, as a source reports it. */
export interface Reading {
  /** Full key, `<prefix>/...`: "/"-separated segments, valid by hamsync's key rules. */
  key: string;
  /** The value: plain JSON (numbers are always finite). */
  value: Json;
  /** HAM state in ms since the epoch; absent = stamp with the daemon's clock. */
  state?: number;
}

/** Receives one batch of readings; never called with an empty batch, never after `stop()` resolves. */
export type Emit = (readings: Reading[]) => void;

/** A running telemetry source. */
export interface Source {
  /** A name for logs and status (the `name` option, default the source type). */
  readonly name: string;
  /**
   * Starts producing readings; `emit` is called at most once per interval with a non-empty batch.
   * Never throws for runtime trouble (missing files, gpsd down): that is logged and retried.
   * Throws if the source is already running.
   */
  start(emit: Emit): void;
  /** Stops timers and connections; once it resolves, `emit` is not called again. Idempotent. */
  stop(): Promise<void>;
}

/** The source types `createSource` knows. */
export const SOURCE_TYPES = ['linux-host', 'gpsd', 'simulated'] as const;

/** One of `SOURCE_TYPES`. */
export type SourceType = (typeof SOURCE_TYPES)[number];

/**
 * One entry of a daemon config's `sources` array, as written in a config file.
 * Type-specific options are documented with each source; unknown options are rejected.
 */
export interface SourceConfig {
  type: SourceType;
  /** How often to emit: a duration (`10s`, `500ms`) or ms. Default per type (linux-host 10s, gpsd 1s, simulated 1s). */
  interval?: string | number;
  /** Key prefix, one or more "/"-separated segments. Default the device id. */
  prefix?: string;
  /** Name for logs. Default the type. */
  name?: string;
  [option: string]: unknown;
}
