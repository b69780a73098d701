import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createSources, type Source } from '../../devices/index.js';
import { HamsyncError, describe } from '../errors.js';
import type { Logger } from '../log.js';
import { LogThrottle } from '../log-throttle.js';

/** The profiles shipped in devices/profiles/, by name. */
export const PROFILE_DIR = fileURLToPath(new URL('../../../devices/profiles/', import.meta.url));

/**
 * The `sources` list of a daemon config: given directly (an array, or JSON text from a flag or
 * env var), or taken from a profile (`raspberry-pi`, `gps-unit`, `simulated`, or a JSON file path).
 */
export function sourceConfigs(sources: unknown, profile: string | undefined): unknown[] {
  if (typeof sources === 'string') {
    try {
      sources = JSON.parse(sources) as unknown;
    } catch {
      throw new HamsyncError('HAMSYNC_ERR_CONFIG', `sources must be a list of source configs (JSON on the command line), got ${describe(sources)}`, { field: 'sources' });
    }
  }
  if (sources !== undefined) {
    if (!Array.isArray(sources)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `sources must be a list, got ${describe(sources)}`, { field: 'sources' });
    return sources;
  }
  if (profile === undefined) return [];
  const file = /[/.]/.test(profile) ? profile : `${PROFILE_DIR}${profile}.json`;
  if (!existsSync(file)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `profile ${describe(profile)} is neither a profile name (raspberry-pi, gps-unit, simulated) nor a file`, { field: 'profile' });
  const parsed = JSON.parse(readFileSync(file, 'utf8')) as { sources?: unknown };
  if (!Array.isArray(parsed.sources)) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `profile ${file} has no "sources" list`, { field: 'profile' });
  return parsed.sources;
}

/** Validates source configs (all errors name sources[i].field) and builds them, not started. */
export function buildSources(configs: unknown[], deviceId: string, log: Logger): Source[] {
  return createSources(configs, deviceId, log);
}

/** Starts sources feeding `put`; a failed put is logged and counted, never thrown. */
export function startSources(sources: Source[], put: (readings: { key: string; value: unknown; state?: number }[], source: Source) => Promise<unknown>, log: Logger, onError: () => void): void {
  // A put refused for a while (clock far ahead, outbox full) would log once per batch: thin it.
  const throttle = new LogThrottle(60_000);
  for (const s of sources) {
    s.start((readings) => {
      put(readings, s).catch((err: Error) => {
        onError();
        const line = throttle.take(`${s.name}:${(err as { code?: string }).code ?? 'other'}`);
        if (line) log.warn('telemetry put failed', { source: s.name, err: err.message, suppressed: line.suppressed });
      });
    });
    log.info('telemetry source started', { source: s.name });
  }
}
