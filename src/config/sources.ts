/** The daemon's `sources` option: a list of source configs, given or taken from a device profile. */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { HamsyncError, describe } from '../errors.js';

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
