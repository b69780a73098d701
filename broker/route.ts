import type { Client, PublishPacket } from 'aedes';
import { isHamsyncError } from '../src/errors.js';
import { checkPresence } from '../src/wire/presence.js';
import { NAMESPACE, parseTopic } from '../src/wire/topics.js';
import type { Ack } from './refusals.js';

/** Where `routePublish` sends the messages of the hub's namespace. */
export interface Routes {
  /** The namespace the hub resolves: the only one this broker serves. */
  readonly ns: string;
  put(client: Client | null, packet: PublishPacket, device: string, cb: Ack): void;
  /** Called after the request was let through (acknowledged). */
  syncRequest(client: Client | null, packet: PublishPacket, device: string): void;
  /** A sync v2 page acknowledgement, called after it was acknowledged; it is never forwarded. */
  syncAck(client: Client | null, packet: PublishPacket, device: string): void;
  /** Marks a message the hub consumed itself: acknowledged, never forwarded or retained, not counted as rejected. */
  consume(packet: PublishPacket): void;
  /** Marks a message rejected (acknowledged, never forwarded); the caller acknowledges it. */
  reject(client: Client | null, packet: PublishPacket, code: string, reason: string): void;
  /** Whether the client may have this retained message stored (its per-client budget, broker/retained-budget.ts). */
  retain(client: Client | null, packet: PublishPacket): boolean;
}

/**
 * The hub's authorizePublish: routes each publish by its topic's kind. Puts go down the put path
 * (PUBACK once durable); a sync request is acknowledged, then answered; a sync ack is
 * acknowledged and handed to the feed, never forwarded; topics only the hub may publish on
 * (state, sync pages, hub announcement) and unknown kinds are rejected; presence (checked) and
 * replay pass. A put, sync request, sync ack or replay row is never retained. Under `hamsync/`, only the
 * hub's namespace is served: any other (or a name that is not a namespace) is rejected. Every
 * retained message a client leaves is within its budget. `$SYS` is refused (no PUBACK).
 * Wills come through here too, when they are published, and follow the same rules.
 */
export function routePublish(routes: Routes, client: Client | null, packet: PublishPacket, cb: Ack): void {
  if (packet.topic.startsWith('$SYS')) return cb(new Error('$SYS topics are reserved'));
  const t = parseTopic(packet.topic);
  if (!t) return pass(routes, client, packet, cb);
  const reject = (code: string, reason: string): void => {
    routes.reject(client, packet, code, reason);
    cb(null);
  };
  if (!NAMESPACE.test(t.ns)) return reject('HAMSYNC_ERR_TOPIC', 'the namespace level is not 1-64 characters of [A-Za-z0-9_-]');
  if (t.ns !== routes.ns) return reject('HAMSYNC_ERR_TOPIC', `namespace ${JSON.stringify(t.ns)} is not served by this broker (it serves ${JSON.stringify(routes.ns)})`);
  switch (t.kind) {
    case 'put':
      packet.retain = false;
      return routes.put(client, packet, t.rest, cb);
    case 'state':
      // Only the hub speaks for the resolved view; a client's state message would mislead subscribers.
      return reject('HAMSYNC_ERR_TOPIC', 'clients may not publish on state topics');
    case 'sync-req':
      packet.retain = false;
      cb(null);
      return routes.syncRequest(client, packet, t.rest);
    case 'sync-res':
      // Catch-up answers come from the hub only; a forged one would feed devices anything.
      return reject('HAMSYNC_ERR_TOPIC', 'clients may not publish catch-up answers');
    case 'sync-ack':
      // For the hub's feed only: acknowledged, never forwarded, never retained.
      routes.consume(packet);
      cb(null);
      return routes.syncAck(client, packet, t.rest);
    case 'hub':
      // The announcement is the hub's; a forged (retained) one would send daemons to a hub that is not there.
      return reject('HAMSYNC_ERR_TOPIC', 'clients may not publish the hub announcement');
    case 'presence':
      if (packet.payload.length > 0) {
        try {
          checkPresence(packet.payload as Buffer);
        } catch (err) {
          if (!isHamsyncError(err)) throw err;
          return reject(err.code, err.message);
        }
      }
      return pass(routes, client, packet, cb);
    case 'replay':
      packet.retain = false;
      return cb(null);
    default:
      return reject('HAMSYNC_ERR_TOPIC', `no such topic in protocol v1: ${t.kind}`);
  }
}

/** Lets a message through, if its retained copy (if any) fits the client's budget. */
function pass(routes: Routes, client: Client | null, packet: PublishPacket, cb: Ack): void {
  if (packet.retain && !routes.retain(client, packet)) {
    routes.reject(client, packet, 'HAMSYNC_ERR_TOO_LARGE', 'the client\'s retained messages are over its budget');
  }
  cb(null);
}
