/**
 * Parsers for the Linux files the linux-host source reads. Each returns `undefined` for text it
 * does not understand rather than throwing, so one odd file costs one reading, not a tick.
 */

/** `/proc/loadavg`: "0.52 0.58 0.59 1/389 12345" → the three load averages. */
export function parseLoadavg(text: string): { m1: number; m5: number; m15: number } | undefined {
  const [a, b, c] = text.trim().split(/\s+/).map(Number);
  if (a === undefined || b === undefined || c === undefined) return undefined;
  if (![a, b, c].every((n) => Number.isFinite(n) && n >= 0)) return undefined;
  return { m1: a, m5: b, m15: c };
}

/**
 * `/proc/meminfo` → total and available memory in bytes. Kernels before 3.14 have no
 * MemAvailable; then it is estimated as MemFree + Buffers + Cached.
 */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number } | undefined {
  const kb = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line.trim());
    if (m) kb.set(m[1] as string, Number(m[2]));
  }
  const total = kb.get('MemTotal');
  if (total === undefined || total <= 0) return undefined;
  let available = kb.get('MemAvailable');
  if (available === undefined) {
    const free = kb.get('MemFree');
    if (free === undefined) return undefined;
    available = free + (kb.get('Buffers') ?? 0) + (kb.get('Cached') ?? 0);
  }
  return { totalBytes: total * 1024, availableBytes: Math.min(available, total) * 1024 };
}

/** `/proc/uptime`: "12345.67 54321.00" → seconds since boot. */
export function parseUptime(text: string): number | undefined {
  const first = text.trim().split(/\s+/)[0];
  const s = first === undefined || first === '' ? NaN : Number(first);
  return Number.isFinite(s) && s >= 0 ? s : undefined;
}

/**
 * A thermal zone's `temp`: an integer in millidegrees Celsius → °C. Returns undefined for
 * anything else, and for values outside -273..500 °C (sensors report garbage when broken).
 */
export function parseMillidegrees(text: string): number | undefined {
  const t = text.trim();
  if (!/^-?\d+$/.test(t)) return undefined;
  const c = Number(t) / 1000;
  return c >= -273.15 && c <= 500 ? c : undefined;
}
