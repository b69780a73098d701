/**
 * From one gpsd TPV report ("time-position-velocity", gpsd's JSON protocol) to readings.
 * Pure functions: no I/O, no clock except the receipt time passed in.
 */
import type { Reading } from '../source.js';
import { joinKey } from '../util/keys.js';

/** How readings of a GPS fix are stamped: by the daemon's clock, or with the GPS time. */
export type GpsStamp = 'clock' | 'gps';

/** The fix a TPV `mode` stands for: 0 (unknown) and 1 (no fix) are `none`. */
export function fixName(mode: unknown): 'none' | '2d' | '3d' | undefined {
  switch (mode) {
    case 0:
    case 1:
      return 'none';
    case 2:
      return '2d';
    case 3:
      return '3d';
    default:
      return undefined;
  }
}

const ISO_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z$/;
/** Start of GPS time, 1980-01-06: anything earlier is not a GPS time. */
const GPS_EPOCH_MS = Date.UTC(1980, 0, 6);
/** Years past 9999 do not round-trip through ISO strings. */
const MAX_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/**
 * A TPV `time` ("2035-02-04T09:28:36.000Z") → ms since the epoch (sub-ms digits dropped), or
 * undefined for anything that is not a real UTC instant from 1980-01-06 to 9999: not a string,
 * another format, Feb 30, hour 24, a leap second (:60), NaN.
 */
export function parseGpsTime(time: unknown): number | undefined {
  if (typeof time !== 'string') return undefined;
  const m = ISO_UTC.exec(time);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const ms = Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  const back = new Date(t);
  // Date.UTC rolls over out-of-range fields (Feb 30 → Mar 2); a real instant round-trips.
  if (!Number.isFinite(t) || back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || back.getUTCHours() !== h || back.getUTCMinutes() !== mi || back.getUTCSeconds() !== s) {
    return undefined;
  }
  return t >= GPS_EPOCH_MS && t <= MAX_MS ? t : undefined;
}

function finite(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** What one TPV gives. */
export interface TpvResult {
  /** The readings (without state when stamping by clock; all with the GPS time when stamping by GPS). */
  readings: Reading[];
  /** The GPS time in ms, if the TPV carried a valid one. */
  gpsMs: number | undefined;
}

/**
 * Readings for one TPV received at `receivedAtMs` (the system clock):
 * `<prefix>/gps/fix` ("none" | "2d" | "3d"), `gps/lat`, `gps/lon` (degrees), `gps/alt` (m,
 * altMSL, else alt), `gps/speed` (m/s), `gps/track` (degrees true), `gps/time` (gpsd's ISO
 * string) and `gps/clock-offset-ms` (GPS time - receipt time: positive = GPS ahead of us).
 * Fields the TPV lacks or holds as non-numbers give no reading; an invalid time gives neither
 * `time` nor `clock-offset-ms`. With `stamp: 'gps'` every reading carries the GPS time as its
 * state, and a TPV without a valid time gives no readings at all (nothing to stamp them with).
 */
export function tpvReadings(tpv: Readonly<Record<string, unknown>>, receivedAtMs: number, prefix: string, stamp: GpsStamp): TpvResult {
  const gpsMs = parseGpsTime(tpv.time);
  if (stamp === 'gps' && gpsMs === undefined) return { readings: [], gpsMs };
  const readings: Reading[] = [];
  const add = (suffix: string, value: string | number): void => {
    readings.push(stamp === 'gps' ? { key: joinKey(prefix, `gps/${suffix}`), value, state: gpsMs as number } : { key: joinKey(prefix, `gps/${suffix}`), value });
  };
  const fix = fixName(tpv.mode);
  if (fix !== undefined) add('fix', fix);
  if (finite(tpv.lat) && tpv.lat >= -90 && tpv.lat <= 90) add('lat', tpv.lat);
  if (finite(tpv.lon) && tpv.lon >= -180 && tpv.lon <= 180) add('lon', tpv.lon);
  const alt = finite(tpv.altMSL) ? tpv.altMSL : tpv.alt;
  if (finite(alt)) add('alt', alt);
  if (finite(tpv.speed)) add('speed', tpv.speed);
  if (finite(tpv.track)) add('track', tpv.track);
  if (gpsMs !== undefined) {
    add('time', tpv.time as string);
    add('clock-offset-ms', gpsMs - Math.round(receivedAtMs));
  }
  return { readings, gpsMs };
}
