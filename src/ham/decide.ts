import { HamsyncError, describe } from '../errors.js';
import { canonical, isJson, type Json } from './lexical.js';

/** What HAM decides for one incoming update. */
export type Decision = 'defer' | 'historical' | 'apply' | 'same';

/** A state-stamped value, as the resolver sees it. */
export interface Stamped {
  readonly state: number;
  readonly value: Json | unknown;
}

/** A state and the canonical JSON text of its value; what the replica keeps at hand. */
export interface CanonicalStamped {
  readonly state: number;
  readonly text: string;
}

export function assertState(state: unknown, field = 'state'): asserts state is number {
  if (typeof state !== 'number' || !Number.isFinite(state)) {
    throw new HamsyncError('HAMSYNC_ERR_STATE', `${field} must be a finite number, got ${describe(state)}`, { field });
  }
}

/**
 * GUN's Hypothetical Amnesia Machine, for one record.
 *
 * - `defer`: the update is from this machine's future (`incoming.state > machineState`).
 * - `historical`: it is older than the live value, or it lost an equal-state tie.
 * - `apply`: `current.state < incoming.state <= machineState`, or there is no current value,
 *   or it won an equal-state tie (its canonical JSON is lexically greater).
 * - `same`: equal state and equal value.
 *
 * Pure: no clock, no I/O. Throws HAMSYNC_ERR_STATE / HAMSYNC_ERR_VALUE for input
 * that is not a finite state or not a JSON value.
 */
export function ham(machineState: number, incoming: Stamped, current?: Stamped): Decision {
  // Inline fast checks; the assert* calls only run to throw the coded error.
  if (!Number.isFinite(machineState)) assertState(machineState, 'machineState');
  if (!Number.isFinite(incoming.state)) assertState(incoming.state, 'incoming.state');
  if (!isPrimitiveJson(incoming.value)) assertJson(incoming.value);
  if (current !== undefined) {
    if (!Number.isFinite(current.state)) assertState(current.state, 'current.state');
    if (!isPrimitiveJson(current.value)) assertJson(current.value);
  }
  if (incoming.state > machineState) return 'defer';
  if (current === undefined) return 'apply';
  if (incoming.state !== current.state) return incoming.state < current.state ? 'historical' : 'apply';
  // Only an equal-state tie needs the canonical texts.
  return hamCanonical(machineState, { state: incoming.state, text: canonical(incoming.value) }, { state: current.state, text: canonical(current.value) });
}

function isPrimitiveJson(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'boolean' || v === null || (t === 'number' && Number.isFinite(v));
}

/** Validates a value as JSON without building its text (that is needed only for ties). */
function assertJson(value: unknown): void {
  if (!isJson(value)) canonical(value); // throws HAMSYNC_ERR_VALUE naming the place
}

/**
 * The same decision over pre-validated states and canonical texts (the hot path
 * of the replica, which canonicalises each value once).
 */
export function hamCanonical(machineState: number, incoming: CanonicalStamped, current?: CanonicalStamped): Decision {
  if (incoming.state > machineState) return 'defer';
  if (current === undefined) return 'apply';
  if (incoming.state < current.state) return 'historical';
  if (incoming.state > current.state) return 'apply';
  if (incoming.text === current.text) return 'same';
  return incoming.text > current.text ? 'apply' : 'historical';
}
