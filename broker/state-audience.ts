import type { Aedes } from 'aedes';
import { stateLookup } from './state-filter.js';

type Listener = Parameters<Aedes['subscribe']>[1];

/** The subscription part of an Aedes persistence (sessions of clients with clean=false). */
export interface SubscriptionPersistence {
  addSubscriptions(client: { id: string }, subs: { topic: string; qos: number }[], ...rest: unknown[]): unknown;
  removeSubscriptions(client: { id: string }, topics: string[], ...rest: unknown[]): unknown;
  cleanSubscriptions(client: { id: string }, ...rest: unknown[]): unknown;
}

/**
 * Whether anyone can hear a state message: a subscription of a connected client, or of a stored
 * session (clean=false, QoS > 0: Aedes queues QoS 1 messages for it while it is offline), whose
 * filter can match a state topic of the namespace. While there is none, the hub does not publish
 * changes at all (broker/state-publisher.ts): a subscriber that comes later reads the live view
 * on SUBSCRIBE (broker/retained-store.ts), after its subscription is counted here, so it misses
 * nothing. Counted by filter, not by key: one state subscriber anywhere means every change is
 * published, as before. Bounded with Aedes' own subscriptions (one entry per such subscription).
 */
export class StateAudience {
  /** Listeners Aedes registered for state filters (one per client subscription), with their filters. */
  private readonly live = new Map<Listener, Set<string>>();
  /** State filters (QoS > 0) of stored sessions, by client id. */
  private readonly stored = new Map<string, Set<string>>();

  constructor(private readonly ns: string) {}

  /** True while some subscription can match a state topic. */
  get any(): boolean {
    return this.live.size > 0 || this.stored.size > 0;
  }

  private isState(filter: string): boolean {
    return stateLookup(this.ns, filter) !== undefined;
  }

  /**
   * Follows `aedes`' subscriptions: its subscribe/unsubscribe (every client subscription, also a
   * restored session's, goes through them) and its persistence's stored sessions.
   */
  install(aedes: Aedes, persistence: SubscriptionPersistence): void {
    const subscribe = aedes.subscribe.bind(aedes);
    const unsubscribe = aedes.unsubscribe.bind(aedes);
    aedes.subscribe = (topic, func, done) => {
      if (this.isState(topic)) this.add(this.live, func, topic);
      subscribe(topic, func, done);
    };
    aedes.unsubscribe = (topic, func, done) => {
      this.remove(this.live, func, topic);
      unsubscribe(topic, func, done);
    };
    const add = persistence.addSubscriptions.bind(persistence);
    const remove = persistence.removeSubscriptions.bind(persistence);
    const clean = persistence.cleanSubscriptions.bind(persistence);
    persistence.addSubscriptions = (client, subs, ...rest) => {
      for (const s of subs) {
        if (!this.isState(s.topic)) continue;
        if (s.qos > 0) this.add(this.stored, client.id, s.topic);
        else this.remove(this.stored, client.id, s.topic);
      }
      return add(client, subs, ...rest);
    };
    persistence.removeSubscriptions = (client, topics, ...rest) => {
      for (const t of topics) this.remove(this.stored, client.id, t);
      return remove(client, topics, ...rest);
    };
    persistence.cleanSubscriptions = (client, ...rest) => {
      this.stored.delete(client.id);
      return clean(client, ...rest);
    };
  }

  private add<K>(map: Map<K, Set<string>>, key: K, filter: string): void {
    const set = map.get(key);
    if (set) set.add(filter);
    else map.set(key, new Set([filter]));
  }

  private remove<K>(map: Map<K, Set<string>>, key: K, filter: string): void {
    const set = map.get(key);
    if (!set?.delete(filter)) return;
    if (set.size === 0) map.delete(key);
  }
}
