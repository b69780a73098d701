/**
 * Telemetry sources for the device daemon: build them from the `sources` entries of a daemon
 * config with `createSources` (or one with `createSource`), then `start(emit)` each and call
 * `daemon.put(readings)` from `emit`; `stop()` them before stopping the daemon.
 *
 * ```ts
 * const sources = createSources(config.sources ?? [], config.id, log);
 * for (const s of sources) s.start((readings) => void daemon.put(readings).catch((err) => log.warn('put failed', { source: s.name, error: String(err) })));
 * // ... on shutdown:
 * await Promise.all(sources.map((s) => s.stop()));
 * ```
 */
import { HamsyncError, describe } from '../src/errors.js';
import type { Logger } from '../src/log.js';
import { assertSource } from '../src/model/keys.js';
import { Options } from './options.js';
import { SOURCE_TYPES, type Source, type SourceType } from './source.js';
import { GPSD_DEFAULT_INTERVAL_MS, GpsdSource } from './sources/gpsd.js';
import { LINUX_HOST_DEFAULT_INTERVAL_MS, LinuxHostSource } from './sources/linux-host.js';
import { SIMULATED_DEFAULT_INTERVAL_MS, SimulatedSource } from './sources/simulated.js';
import { seedFromString } from './util/prng.js';

export type { Emit, Reading, Source, SourceConfig, SourceType } from './source.js';
export { SOURCE_TYPES } from './source.js';
export { GpsdSource, GPSD_DEFAULT_INTERVAL_MS, type GpsdOptions, type GpsdStats } from './sources/gpsd.js';
export { fixName, parseGpsTime, tpvReadings, type GpsStamp, type TpvResult } from './sources/gpsd-tpv.js';
export { LinuxHostSource, LINUX_HOST_DEFAULT_INTERVAL_MS, type LinuxHostOptions } from './sources/linux-host.js';
export { SimulatedSeries, SimulatedSource, SIMULATED_DEFAULT_INTERVAL_MS, type SimulatedOptions } from './sources/simulated.js';

const COMMON = ['type', 'interval', 'prefix', 'name'] as const;
const MIN_INTERVAL_MS = 10;
const MAX_INTERVAL_MS = 86_400_000;
const DAY_MS = 86_400_000;

/**
 * Validates one source config and builds the source (not started). `path` is how errors name
 * the entry, e.g. `sources[2]`; every error is HAMSYNC_ERR_CONFIG naming the field and the value
 * it got (`sources[2].interval must be a duration from 10ms to 86400s (e.g. 10s or 500ms), got "-5s"`).
 * The device id is the default key prefix (HAMSYNC_ERR_SOURCE if it is not a valid device id).
 */
export function createSource(config: unknown, deviceId: string, log: Logger, path = 'source'): Source {
  assertSource(deviceId);
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${path} must be an object like {"type":"linux-host"}, got ${describe(config)}`, { field: path });
  }
  const raw = config as Readonly<Record<string, unknown>>;
  const o: Options = new Options(raw, path);
  const type = raw.type;
  if (typeof type !== 'string' || !(SOURCE_TYPES as readonly string[]).includes(type)) o.fail('type', `one of ${SOURCE_TYPES.map((t) => JSON.stringify(t)).join(', ')}`);
  const name = o.string('name', type);
  const prefix = o.prefix(deviceId);
  const child = log.child({ source: name });
  switch (type as SourceType) {
    case 'linux-host': {
      o.onlyKnown([...COMMON, 'root', 'disk']);
      const disk = raw.disk === false ? false : o.string('disk', '/');
      return new LinuxHostSource(
        { name, prefix, intervalMs: o.duration('interval', LINUX_HOST_DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, MAX_INTERVAL_MS), root: o.string('root', '/'), disk },
        child,
      );
    }
    case 'gpsd': {
      o.onlyKnown([...COMMON, 'host', 'port', 'stamp', 'maxLine', 'reconnectMin', 'reconnectMax']);
      const reconnectMinMs = o.duration('reconnectMin', 1000, MIN_INTERVAL_MS, 3_600_000);
      const reconnectMaxMs = o.duration('reconnectMax', Math.max(30_000, reconnectMinMs), MIN_INTERVAL_MS, 3_600_000);
      if (reconnectMaxMs < reconnectMinMs) o.fail('reconnectMax', `at least reconnectMin (${reconnectMinMs}ms)`, raw.reconnectMax);
      return new GpsdSource(
        {
          name,
          prefix,
          intervalMs: o.duration('interval', GPSD_DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, MAX_INTERVAL_MS),
          host: o.string('host', '127.0.0.1'),
          port: o.integer('port', 2947, 1, 65535),
          stamp: o.oneOf('stamp', ['clock', 'gps'] as const, 'clock'),
          maxLine: o.integer('maxLine', 65_536, 1024, 16 * 1024 * 1024),
          reconnectMinMs,
          reconnectMaxMs,
        },
        child,
      );
    }
    case 'simulated': {
      o.onlyKnown([...COMMON, 'seed', 'period', 'channels']);
      return new SimulatedSource(
        {
          name,
          prefix,
          intervalMs: o.duration('interval', SIMULATED_DEFAULT_INTERVAL_MS, MIN_INTERVAL_MS, MAX_INTERVAL_MS),
          seed: o.integer('seed', seedFromString(deviceId), 0, 0xffffffff),
          periodMs: o.duration('period', 600_000, 1000, 365 * DAY_MS),
          channels: o.integer('channels', 0, 0, 1000),
        },
        child,
      );
    }
  }
}

/**
 * Validates a config's `sources` array and builds every source (not started); errors name the
 * entry as `sources[i]`. Throws on the first bad entry, before anything runs. Two sources may
 * not share a name (their logs would be ambiguous).
 */
export function createSources(configs: unknown, deviceId: string, log: Logger, field = 'sources'): Source[] {
  if (!Array.isArray(configs)) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be an array of source configs, got ${describe(configs)}`, { field });
  }
  const sources = configs.map((c: unknown, i) => createSource(c, deviceId, log, `${field}[${i}]`));
  const seen = new Set<string>();
  sources.forEach((s, i) => {
    if (seen.has(s.name)) {
      throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field}[${i}].name must be unique among sources, got ${describe(s.name)} twice (set "name" on one of them)`, { field: `${field}[${i}].name` });
    }
    seen.add(s.name);
  });
  return sources;
}
