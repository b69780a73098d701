import { HamsyncError, describe } from '../errors.js';
import type { Store } from './open.js';

/**
 * Whom a data directory belongs to, kept in its `meta` under `owner`: a device daemon's (its id
 * and namespace) or a broker's hub replica (its namespace). Recorded at the first start, checked
 * at every later one: the outbox, the clock's high-water mark and the signer belong to it.
 */
export interface DataDirOwner {
  role: 'daemon' | 'broker';
  /** The device id (daemon only). */
  id?: string;
  ns: string;
}

export const OWNER_KEY = 'owner';

/** "daemon \"earth\" in namespace \"default\"" */
export function ownerText(o: DataDirOwner): string {
  return `${o.role}${o.id === undefined ? '' : ` ${describe(o.id)}`} in namespace ${describe(o.ns)}`;
}

/**
 * Checks that the data directory of `store` belongs to `want`, or records it when it belongs to
 * nobody yet. Refuses with HAMSYNC_ERR_IDENTITY when another device id, namespace or role is
 * recorded, or, in a directory from before owners were recorded, when its outbox holds put
 * messages of another device (started as a broker: any at all). Nothing is changed then.
 */
export function claimOwner(store: Store, want: DataDirOwner, dir: string): void {
  const had = store.meta.get(OWNER_KEY) as DataDirOwner | undefined;
  if (had !== undefined) {
    if (had.role === want.role && had.id === want.id && had.ns === want.ns) return;
    throw new HamsyncError(
      'HAMSYNC_ERR_IDENTITY',
      `data directory ${dir} belongs to ${ownerText(had)}, not to ${ownerText(want)}: its outbox, clock and history are that ${had.role}'s; ` +
        `start it as ${ownerText(had)}, or use another --data-dir`,
      { dir, owner: had, wanted: want },
    );
  }
  const foreign = foreignOutbox(store, want);
  if (foreign) {
    throw new HamsyncError(
      'HAMSYNC_ERR_IDENTITY',
      `data directory ${dir} holds ${foreign.messages} queued put message(s) of device ${describe(foreign.src)} not yet sent to the broker; ` +
        `starting it as ${ownerText(want)} would lose them: start it as daemon ${describe(foreign.src)}, or use another --data-dir`,
      { dir, wanted: want, src: foreign.src },
    );
  }
  store.meta.putSync(OWNER_KEY, { role: want.role, ...(want.id === undefined ? {} : { id: want.id }), ns: want.ns });
}

/** The first queued put message whose source is not `want`'s device (every one, for a broker), and how many there are. */
function foreignOutbox(store: Store, want: DataDirOwner): { src: string; messages: number } | undefined {
  let first: string | undefined;
  let messages = 0;
  for (const { value } of store.outbox.getRange({})) {
    const src = putSource(value.p);
    if (want.role === 'daemon' && src === want.id) continue;
    first ??= src ?? '?';
    messages++;
  }
  return first === undefined ? undefined : { src: first, messages };
}

const SRC_PREFIX = /^\{"src":("(?:[^"\\]|\\.)*")/;

/** The `src` of an encoded put message (src/wire/codec.ts `encodePut` writes it first); undefined if it has none. */
export function putSource(payload: string): string | undefined {
  const m = SRC_PREFIX.exec(payload);
  try {
    const src = m ? (JSON.parse(m[1] as string) as unknown) : (JSON.parse(payload) as { src?: unknown }).src;
    return typeof src === 'string' ? src : undefined;
  } catch {
    return undefined;
  }
}
