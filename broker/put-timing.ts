/**
 * Optional observers of the put path (set by the admin API's metrics, broker/metrics.ts): each
 * costs one call per message or per write batch, and nothing when unset.
 */
export interface PutObservers {
  /** A put message was acknowledged (PUBACK): seconds since it reached the put path. */
  acked?: (seconds: number) => void;
  /** A write batch became durable: seconds since it was committed (written and handed to LMDB). */
  flushed?: (seconds: number) => void;
}
