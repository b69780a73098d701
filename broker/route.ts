import type { Client, PublishPacket } from 'aedes';
import { parseTopic } from '../src/wire/topics.js';
import type { Ack } from './refusals.js';

/** Where `routePublish` sends the messages of the hub's namespace. */
export interface Routes {
  /** The namespace the hub resolves; other topics pass through untouched. */
  readonly ns: string;
  put(client: Client | null, packet: PublishPacket, device: string, cb: Ack): void;
  /** Called after the request was let through (acknowledged). */
  syncRequest(client: Client | null, packet: PublishPacket, device: string): void;
  /** Marks a message rejected (acknowledged, never forwarded); the caller acknowledges it. */
  reject(client: Client | null, packet: PublishPacket, code: string, reason: string): void;
}

/**
 * The hub's authorizePublish: routes each publish by its topic's kind. Puts go down the put path
 * (PUBACK once durable); a catch-up request is acknowledged, then answered; topics only the hub
 * may publish on (state, catch-up answers) and unknown kinds are rejected; presence and replay
 * pass. `$SYS` is refused (no PUBACK).
 */
export function routePublish(routes: Routes, client: Client | null, packet: PublishPacket, cb: Ack): void {
  if (packet.topic.startsWith('$SYS')) return cb(new Error('$SYS topics are reserved'));
  const t = parseTopic(packet.topic);
  if (!t || t.ns !== routes.ns) return cb(null);
  switch (t.kind) {
    case 'put':
      packet.retain = false;
      return routes.put(client, packet, t.rest, cb);
    case 'state':
      // Only the hub speaks for the resolved view; a client's state message would mislead subscribers.
      routes.reject(client, packet, 'HAMSYNC_ERR_TOPIC', 'clients may not publish on state topics');
      return cb(null);
    case 'sync-req':
      packet.retain = false;
      cb(null);
      return routes.syncRequest(client, packet, t.rest);
    case 'sync-res':
      // Catch-up answers come from the hub only; a forged one would feed devices anything.
      routes.reject(client, packet, 'HAMSYNC_ERR_TOPIC', 'clients may not publish catch-up answers');
      return cb(null);
    case 'presence':
    case 'replay':
      return cb(null);
    default:
      routes.reject(client, packet, 'HAMSYNC_ERR_TOPIC', `no such topic in protocol v1: ${t.kind}`);
      return cb(null);
  }
}
