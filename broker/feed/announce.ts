import type { HubIdentity } from '../../src/store/hub-identity.js';
import { encodeHubAnnouncement } from '../../src/wire/sync-v2.js';
import { topics } from '../../src/wire/topics.js';
import type { Publisher } from '../publisher.js';

/**
 * Publishes the hub's retained announcement `hamsync/<ns>/hub` = `{"pv":2,"hub","epoch"}` (on
 * attach): v2 daemons learn from it that a hub serves the namespace, and which one (their stored
 * position is per hub id and epoch). Clients may not publish on this topic (broker/route.ts).
 */
export function announceHub(publisher: Publisher, ns: string, identity: HubIdentity): void {
  publisher.publish(topics.hub(ns), encodeHubAnnouncement({ hub: identity.id, epoch: identity.epoch }), true);
}
