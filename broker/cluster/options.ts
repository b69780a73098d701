/**
 * What a broker needs to be one node of a hub cluster (docs/operations.md "Cluster"): the Redis
 * server the nodes share, this node's id, and how peers reach this node's MQTT listener.
 */
export interface ClusterOptions {
  /** The shared Redis server, redis://[user:password@]host:port[/db] (or rediss://). */
  url: string;
  /** This node's id, unique in the cluster: 1-64 characters of [A-Za-z0-9_.-]. */
  nodeId: string;
  /**
   * The MQTT URL other nodes use to reach this node (the peer snapshot fallback). Default
   * mqtt://<listen host, or 127.0.0.1 for 0.0.0.0>:<MQTT port>.
   */
  advertise?: string;
  /** Entries the shared stream keeps (trimmed approximately beyond it). Default 1,000,000. */
  logMax?: number;
  /**
   * This node's login at its peers' MQTT listeners (peer snapshots) when they require one
   * (--users): a device user that may read every key. Default: none.
   */
  username?: string;
  password?: string;
}

/** Default length of the shared stream, in entries (one entry holds one durable batch of a node). */
export const DEFAULT_CLUSTER_LOG_MAX = 1_000_000;
