import { isUtf8 } from 'node:buffer';
import { HamsyncError, describe } from '../errors.js';
import type { Json } from '../ham/lexical.js';
import { assertNoDuplicateKeys } from './strict-json.js';
import { PROTOCOL_VERSION } from './topics.js';

/** An update as carried on the wire, its value already canonical JSON text. */
export interface WireUpdate {
  key: string;
  state: number;
  /** Canonical JSON text of the value. */
  text: string;
  source?: string;
  /** The source's signature (base64url), sent as the optional field "g". */
  sig?: string;
}

/** Limits on what is parsed at all. */
export interface WireLimits {
  /** Largest payload parsed, in bytes. Default 262144 (256 KiB). */
  maxPayloadBytes: number;
}

export const DEFAULT_WIRE_LIMITS: WireLimits = { maxPayloadBytes: 256 * 1024 };

const q = JSON.stringify;

/** `,"g":…` when the update is signed, else nothing (old receivers ignore the field). */
function g(sig: string | undefined): string {
  return sig === undefined ? '' : `,"g":${q(sig)}`;
}

/** `{"src":…,"u":[{"k":…,"v":…,"s":…,"g"?:…},…]}`: a device's put message. */
export function encodePut(source: string, updates: readonly WireUpdate[]): string {
  return `{"src":${q(source)},"u":[${updates.map((u) => `{"k":${q(u.key)},"v":${u.text},"s":${q(u.state)}${g(u.sig)}}`).join(',')}]}`;
}

/** `{"v":…,"s":…,"src":…,"g"?:…}`: the resolved value of one key, on its state topic, with its source's signature. */
export function encodeState(text: string, state: number, source: string, sig?: string): string {
  return `{"v":${text},"s":${q(state)},"src":${q(source)}${g(sig)}}`;
}

/**
 * Catch-up answer chunk: `{"pv":1,"id":…,"u":[{"k","v","s","src","g"?}],"done":bool,"t"?:ms}`;
 * `t` is the hub's clock when sent (older receivers ignore it; the daemon's clock guard learns from it).
 */
export function encodeSyncResponse(id: string, updates: readonly WireUpdate[], done: boolean, t?: number): string {
  const u = updates.map((x) => `{"k":${q(x.key)},"v":${x.text},"s":${q(x.state)},"src":${q(x.source ?? '')}${g(x.sig)}}`).join(',');
  return `{"pv":${PROTOCOL_VERSION},"id":${q(id)},"u":[${u}],"done":${done}${t === undefined || !Number.isFinite(t) ? '' : `,"t":${q(t)}`}}`;
}

export function encodeSyncRequest(id: string, filters: readonly string[]): string {
  return q({ pv: PROTOCOL_VERSION, id, f: filters });
}

export function encodePresence(online: boolean, at?: number): string {
  return q(at === undefined ? { pv: PROTOCOL_VERSION, online } : { pv: PROTOCOL_VERSION, online, at });
}

/** Parses a payload as a JSON object, checking its size first. */
export function parseObject(payload: Buffer | string, limits: WireLimits, what: string): Record<string, unknown> {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  if (size > limits.maxPayloadBytes) {
    throw new HamsyncError('HAMSYNC_ERR_TOO_LARGE', `${what} payload is ${size} bytes, the limit is ${limits.maxPayloadBytes}`, { size });
  }
  // Payloads are UTF-8 (docs/PROTOCOL.md): decoding bad bytes to U+FFFD would accept altered keys and values.
  if (typeof payload !== 'string' && !isUtf8(payload)) {
    throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `${what} payload is not valid UTF-8`);
  }
  let parsed: unknown;
  const text = typeof payload === 'string' ? payload : payload.toString('utf8');
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `${what} payload is not JSON`);
  }
  assertNoDuplicateKeys(text, what);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `${what} payload must be a JSON object, got ${describe(parsed)}`);
  }
  return parsed as Record<string, unknown>;
}

/** A decoded update: library field names, value parsed (validated later by the replica). */
export interface DecodedUpdate {
  key: unknown;
  value: Json;
  state: unknown;
  source: unknown;
  /** Field "g", present only when the message had one; its form is checked with the update (checkUpdate). */
  sig?: unknown;
}

/** The decoded update of wire object `x` (its "g" carried only when present). */
function decoded(x: Record<string, unknown>, key: unknown, source: unknown): DecodedUpdate {
  const u: DecodedUpdate = { key, value: x.v as Json, state: x.s, source };
  if (Object.hasOwn(x, 'g')) u.sig = x.g;
  return u;
}

function updatesOf(obj: Record<string, unknown>, what: string): Record<string, unknown>[] {
  const u = obj.u;
  if (!Array.isArray(u) || u.length === 0) {
    throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `${what} payload must have a non-empty array "u", got ${describe(u)}`);
  }
  return u.map((x: unknown, i) => {
    if (typeof x !== 'object' || x === null || Array.isArray(x) || !('v' in x)) {
      throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `${what} update ${i} must be an object with "k", "v" and "s"`, { index: i });
    }
    return x as Record<string, unknown>;
  });
}

/**
 * Decodes a put message. `topicDevice` is the device id in the topic: the payload's `src`
 * must be the same device. Key/value/state validity is checked by the replica (whole batch).
 */
export function decodePut(payload: Buffer | string, topicDevice: string, limits: WireLimits = DEFAULT_WIRE_LIMITS): { source: string; updates: DecodedUpdate[] } {
  const obj = parseObject(payload, limits, 'put');
  if (obj.src !== topicDevice) {
    throw new HamsyncError('HAMSYNC_ERR_TOPIC', `put payload src ${describe(obj.src)} differs from the topic's device ${describe(topicDevice)}`);
  }
  const source = topicDevice;
  return { source, updates: updatesOf(obj, 'put').map((x) => decoded(x, x.k, source)) };
}

export function decodeSyncResponse(payload: Buffer | string, limits: WireLimits = DEFAULT_WIRE_LIMITS): { id: string; done: boolean; updates: DecodedUpdate[]; t?: number } {
  const obj = parseObject(payload, limits, 'sync response');
  if (typeof obj.id !== 'string') throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', 'sync response has no string "id"');
  const updates = Array.isArray(obj.u) && obj.u.length === 0 ? [] : updatesOf(obj, 'sync response');
  // The hub's clock when sent: optional, and ignored unless a positive finite number.
  const t = typeof obj.t === 'number' && Number.isFinite(obj.t) && obj.t > 0 ? { t: obj.t } : {};
  return { id: obj.id, done: obj.done === true, updates: updates.map((x) => decoded(x, x.k, x.src)), ...t };
}

/**
 * Decodes a state message (`key` from its topic): the hub's resolved value of one key, as the one
 * update `{"v","s","src","g"?}` that won. Validity (and the signature) is checked by the receiver.
 */
export function decodeState(payload: Buffer | string, key: string, limits: WireLimits = DEFAULT_WIRE_LIMITS): DecodedUpdate {
  const obj = parseObject(payload, limits, 'state');
  if (!('v' in obj)) throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', 'state payload must be an object with "v", "s" and "src"');
  return decoded(obj, key, obj.src);
}

export function decodeSyncRequest(payload: Buffer | string, limits: WireLimits = DEFAULT_WIRE_LIMITS): { id: string; filters: string[] } {
  const obj = parseObject(payload, limits, 'sync request');
  if (typeof obj.id !== 'string' || obj.id.length > 128) throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', 'sync request needs a string "id" of at most 128 characters');
  const f = obj.f ?? ['#'];
  if (!Array.isArray(f) || f.length > 64 || !f.every((x) => typeof x === 'string')) {
    throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', 'sync request "f" must be an array of at most 64 key filters');
  }
  return { id: obj.id, filters: f as string[] };
}
