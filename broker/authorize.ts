/**
 * The broker's publish, subscribe and forward decisions, composed in one place: the ACL (when
 * the broker has a users file) decides first, then the hub (a put is written before its PUBACK).
 * Neither wraps the other's hook, so the order in which the hub and the guard are attached
 * cannot drop either.
 */
import type { Aedes } from 'aedes';
import type { Guard } from './auth.js';
import type { Hub } from './hub.js';

export function authorize(aedes: Aedes, hub: Hub, acl?: Guard): void {
  aedes.authorizePublish = (client, packet, cb) => {
    const refused = acl?.mayPublish(client, packet);
    if (refused) return cb(refused);
    hub.authorizePublish(client, packet, cb);
  };
  aedes.authorizeSubscribe = (client, sub, cb) => {
    const ok = (acl === undefined || acl.maySubscribe(client, sub)) && hub.authorizeSubscribe(client, sub);
    cb(null, ok ? sub : null);
  };
  aedes.authorizeForward = (_client, packet) => hub.authorizeForward(packet);
}
