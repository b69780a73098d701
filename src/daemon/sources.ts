import { createSources, type Source } from '../../devices/index.js';
import type { Logger } from '../log.js';
import { LogThrottle } from '../log-throttle.js';

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
