import { parseTopic } from '../../src/wire/topics.js';

/**
 * Whether a message published on this node is sent to the other nodes of the cluster
 * (broker/cluster/mq-bridge.ts). Not bridged, because every node's hub speaks for itself and
 * receives every update through the shared log (broker/cluster/, docs/cluster.md):
 * - `hamsync/<ns>/state/#`: each node publishes the state of its own replica, so a subscriber
 *   sees each change once, from its own node, never an older value after a newer one;
 * - `hamsync/<ns>/put/<device>`: the input of the hub that received it, replicated to the other
 *   hubs through the log (bridging it too would double the put path's traffic for subscribers
 *   that should watch the state topics);
 * - the sync v2 requests, pages and acknowledgements, and the hub announcement: between a device
 *   and the node it is connected to;
 * - `$SYS/...`, except what Aedes itself uses across brokers: `$SYS/<id>/new/clients` (a client
 *   id connecting on another node closes its session here) and `$SYS/<id>/birth` (a restarted
 *   node's message counter starts again: its peers reset their duplicate filters).
 * Everything else (presence, replay rows, any application topic) is bridged.
 */
export function bridgedTopic(topic: string): boolean {
  if (topic.startsWith('$')) {
    const p = topic.split('/');
    return p.length === 4 && p[0] === '$SYS' && p[2] === 'new' && p[3] === 'clients' || p.length === 3 && p[0] === '$SYS' && p[2] === 'birth';
  }
  const t = parseTopic(topic);
  if (!t) return true;
  switch (t.kind) {
    case 'state':
    case 'put':
    case 'sync-req':
    case 'sync-res':
    case 'sync-ack':
    case 'hub':
      return false;
    default:
      return true;
  }
}
