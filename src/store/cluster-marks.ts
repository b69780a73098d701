import type { Store } from './open.js';

const STREAM = 'cluster.stream';
const PUSHED = 'cluster.pushed';

/**
 * Where this node stands in the hub cluster (broker/cluster/), in the store's meta:
 * - `stream`: the shared stream's generation and the id of the last entry applied from it
 *   (queued with the updates it covers, so both commit in one transaction);
 * - `pushed`: the change log position up to which this node's own rows are in the stream.
 */
export interface StreamMark {
  /** The stream's generation (a random id Redis holds next to it; another one means it restarted). */
  gen: string;
  /** Last stream entry id applied ("0-0": none yet). */
  id: string;
  /** That entry's number in the stream (entries are numbered 1, 2, 3, … per generation; 0: none). */
  n: number;
}

export class ClusterMarks {
  constructor(private readonly store: Store) {}

  stream(): StreamMark | undefined {
    const v = this.store.meta.get(STREAM) as { gen?: unknown; id?: unknown; n?: unknown } | undefined;
    if (!v || typeof v.gen !== 'string' || typeof v.id !== 'string' || !Number.isSafeInteger(v.n)) return undefined;
    return { gen: v.gen, id: v.id, n: v.n as number };
  }

  /** Queues the mark into the current write transaction (the same event-loop turn as the updates it covers). */
  setStream(mark: StreamMark): void {
    void this.store.meta.put(STREAM, { gen: mark.gen, id: mark.id, n: mark.n });
  }

  /** Change log position pushed to the stream so far (0: none). */
  pushed(): number {
    const v = this.store.meta.get(PUSHED);
    return typeof v === 'number' && Number.isSafeInteger(v) ? v : 0;
  }

  /** Stores the pushed position; resolves once it is committed. */
  async setPushed(pos: number): Promise<void> {
    await this.store.meta.put(PUSHED, pos);
  }
}
