/**
 * The keys a config file may hold, with their checks: made from the option tables
 * (daemon-options.ts, broker-options.ts). Each key can also be an env var HAMSYNC_<KEY> or a --flag.
 */
import type { Check } from '../util/check.js';
import { BROKER } from './broker-options.js';
import { DAEMON } from './daemon-options.js';
import { checksOf } from './option-table.js';

export type { Check } from '../util/check.js';

/** Keys a daemon config file may hold. */
export const DAEMON_KEYS: Record<string, Check> = checksOf(DAEMON);

/** Keys a broker config file may hold. */
export const BROKER_KEYS: Record<string, Check> = checksOf(BROKER);
