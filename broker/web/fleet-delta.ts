import type { FleetView as FleetSnapshot } from '../fleet/fleet.js';

export type { FleetSnapshot };

/** The `fleet` event: the view without its history, and the history's points newer than the last sent. */
export interface FleetEvent extends Omit<FleetSnapshot, 'skewHistory'> {
  skewDelta: FleetSnapshot['skewHistory'];
}

/**
 * The `fleet` event for one tick: the whole history is sent once, by GET /v1/fleet; a stream gets
 * only the samples taken after `after` (the newest time it was sent before; undefined: the newest
 * sample alone). Returns the event and the newest sample time it carries.
 */
export function fleetEvent(view: FleetSnapshot, after: number | undefined): { event: FleetEvent; lastT: number | undefined } {
  const { skewHistory, ...rest } = view;
  const t = skewHistory.t;
  let from = t.length;
  if (after === undefined) from = Math.max(0, t.length - 1);
  else while (from > 0 && (t[from - 1] as number) > after) from--;
  const series: Record<string, (number | null)[]> = {};
  for (const [id, values] of Object.entries(skewHistory.series)) series[id] = values.slice(from, t.length);
  return { event: { ...rest, skewDelta: { t: t.slice(from), series } }, lastT: t.length > 0 ? t[t.length - 1] : after };
}
