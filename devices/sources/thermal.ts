/**
 * Thermal zones: `<root>/sys/class/thermal/thermal_zone<N>/{type,temp}`. Zones that are absent,
 * unreadable (many drivers answer EIO or ENODATA while their device sleeps) or report garbage
 * are left out; having no zones at all is normal (containers, most VMs).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../src/log.js';
import type { Reading } from '../source.js';
import { joinKey, safeSegment } from '../util/keys.js';
import { round } from '../util/prng.js';
import { parseMillidegrees } from './procfs.js';

/** One readable zone. */
export interface ThermalZone {
  /** Directory name, `thermal_zone0`. */
  zone: string;
  /** Zone number, 0 for `thermal_zone0`. */
  index: number;
  /** Contents of `type` (trimmed), or the directory name if that is unreadable. */
  type: string;
  /** Temperature in °C. */
  celsius: number;
}

const ZONE = /^thermal_zone(\d+)$/;
/** Zone types that are the CPU: Raspberry Pi `cpu-thermal`, other ARM boards `cpu0-thermal`..., Intel `x86_pkg_temp`. */
const CPU_TYPE = /^(cpu|x86_pkg_temp)/i;

/** Reads every thermal zone under `root`, sorted by zone number. */
export async function readThermalZones(root: string, log: Logger): Promise<ThermalZone[]> {
  const dir = path.join(root, 'sys/class/thermal');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    log.debug('no thermal zones', { dir, error: (err as NodeJS.ErrnoException).code ?? String(err) });
    return [];
  }
  const zones: ThermalZone[] = [];
  for (const zone of names) {
    const m = ZONE.exec(zone);
    if (!m) continue;
    const zoneDir = path.join(dir, zone);
    let raw: string;
    try {
      raw = await readFile(path.join(zoneDir, 'temp'), 'utf8');
    } catch (err) {
      log.debug('thermal zone unreadable', { file: path.join(zoneDir, 'temp'), error: (err as NodeJS.ErrnoException).code ?? String(err) });
      continue;
    }
    const celsius = parseMillidegrees(raw);
    if (celsius === undefined) {
      log.debug('thermal zone reports no temperature', { file: path.join(zoneDir, 'temp'), text: raw.slice(0, 40) });
      continue;
    }
    let type = zone;
    try {
      type = (await readFile(path.join(zoneDir, 'type'), 'utf8')).trim() || zone;
    } catch {
      // keep the directory name
    }
    zones.push({ zone, index: Number(m[1]), type, celsius });
  }
  return zones.sort((a, b) => a.index - b.index);
}

/**
 * Readings for the zones: `<prefix>/thermal/<type>` per zone (a type shared by several zones
 * becomes `<type>-<N>` for each), and `<prefix>/cpu/temp`: the hottest zone whose type is the
 * CPU's (`cpu*`, `x86_pkg_temp`), or else the hottest zone.
 */
export function thermalReadings(zones: readonly ThermalZone[], prefix: string): Reading[] {
  if (zones.length === 0) return [];
  const count = new Map<string, number>();
  const segment = (z: ThermalZone): string => safeSegment(z.type, z.zone);
  for (const z of zones) count.set(segment(z), (count.get(segment(z)) ?? 0) + 1);
  const readings: Reading[] = zones.map((z) => {
    const name = segment(z);
    return { key: joinKey(prefix, `thermal/${(count.get(name) ?? 0) > 1 ? `${name}-${z.index}` : name}`), value: round(z.celsius, 3) };
  });
  const cpu = zones.filter((z) => CPU_TYPE.test(z.type));
  const hottest = Math.max(...(cpu.length > 0 ? cpu : zones).map((z) => z.celsius));
  readings.push({ key: joinKey(prefix, 'cpu/temp'), value: round(hottest, 3) });
  return readings;
}
