import { HamsyncError, describe } from '../errors.js';
import { parseObject } from './codec.js';

/** Largest presence payload, in bytes: `{"pv":1,"online":true,"at":<state>}` is about 50. */
export const MAX_PRESENCE_BYTES = 1024;

/**
 * Checks a presence message (`{"pv":1,"online":true,"at":<state>}` or `{"pv":1,"online":false}`,
 * docs/PROTOCOL.md): at most 1 KiB, `pv` a positive integer, `online` a boolean, `at` (optional) a
 * finite number. Other fields are allowed (a later protocol version may add some). An empty
 * payload is not a presence message: it clears the retained one, and is not checked here.
 */
export function checkPresence(payload: Buffer | string): { online: boolean; at?: number } {
  const obj = parseObject(payload, { maxPayloadBytes: MAX_PRESENCE_BYTES }, 'presence');
  if (!Number.isInteger(obj.pv) || (obj.pv as number) < 1) throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `presence "pv" must be a positive integer, got ${describe(obj.pv)}`, { field: 'pv' });
  if (typeof obj.online !== 'boolean') throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `presence "online" must be true or false, got ${describe(obj.online)}`, { field: 'online' });
  if (obj.at !== undefined && !Number.isFinite(obj.at)) throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `presence "at" must be a finite number, got ${describe(obj.at)}`, { field: 'at' });
  return obj.at === undefined ? { online: obj.online } : { online: obj.online, at: obj.at as number };
}
