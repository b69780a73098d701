/** Options the daemon and the broker share: the log level, and the deferred-queue and quarantine limits. */
import { DEFAULT_QUEUE_LIMITS } from '../sync/queue-limits.js';
import { age, count, level, positiveSize } from './checks.js';
import { bytesText, msText, optionTable } from './option-table.js';

/** Where data lives when --data-dir is not given: systemd's StateDirectory, else ./hamsync-data. */
export function defaultDataDir(): string {
  return process.env.STATE_DIRECTORY?.split(':')[0] ?? './hamsync-data';
}

export const LOG_LEVEL = optionTable({
  logLevel: { type: 'string', default: () => process.env.HAMSYNC_LOG_LEVEL ?? 'info', defaultText: 'info', check: level, describe: 'debug, info, warn, error or silent (JSON lines on stderr)' },
});

/** The queue limits; the replica applies their defaults (src/sync/queue-limits.ts). `refused` says what is refused whole. */
export function queueOptions(refused: string) {
  return optionTable({
    maxFuture: { type: 'duration', unit: 'ms', defaultBy: 'program', default: msText(DEFAULT_QUEUE_LIMITS.maxFutureMs), check: age, describe: 'horizon: updates stamped further ahead are quarantined, not deferred' },
    deferredMax: { type: 'number', unit: 'updates', defaultBy: 'program', default: DEFAULT_QUEUE_LIMITS.deferredMaxPerSource, check: count(1), describe: `most deferred updates per source; over it ${refused} is refused whole` },
    deferredMaxBytes: { type: 'size', unit: 'bytes', defaultBy: 'program', default: bytesText(DEFAULT_QUEUE_LIMITS.deferredMaxBytesPerSource), check: positiveSize, describe: 'most bytes of deferred updates per source, key + value text' },
    quarantineMax: { type: 'number', unit: 'updates', defaultBy: 'program', default: DEFAULT_QUEUE_LIMITS.quarantineMaxPerSource, check: count(0), describe: 'most quarantined updates per source; 0 refuses them' },
  });
}
