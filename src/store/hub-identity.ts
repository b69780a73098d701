import { randomUUID } from 'node:crypto';
import type { Store } from './open.js';

/**
 * A hub's durable identity: `id` is made once per data directory (a replaced directory is
 * another hub), `epoch` grows whenever its change log stops describing its data (an import or
 * restore wrote rows the log does not hold). Followers keep positions per hub id and epoch; any
 * other pair means their position is meaningless there (protocol v2 falls back to a snapshot).
 */
export interface HubIdentity {
  id: string;
  epoch: number;
}

const KEY = 'hub.identity';

function isIdentity(v: unknown): v is HubIdentity {
  const o = v as HubIdentity | undefined;
  return typeof o?.id === 'string' && Number.isSafeInteger(o.epoch) && o.epoch > 0;
}

/** The data directory's hub identity, made (and stored) the first time. */
export function hubIdentity(store: Store): HubIdentity {
  const v = store.meta.get(KEY);
  if (isIdentity(v)) return v;
  const made = { id: randomUUID(), epoch: 1 };
  store.meta.putSync(KEY, made);
  return made;
}

/** Starts a new epoch when the directory already is a hub's (import, restore); no-op otherwise. */
export function bumpHubEpoch(store: Store): void {
  const v = store.meta.get(KEY);
  if (isIdentity(v)) store.meta.putSync(KEY, { id: v.id, epoch: v.epoch + 1 });
}
