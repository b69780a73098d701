import { Readable } from 'node:stream';
import type { AedesPublishPacket } from 'aedes';
import type { RetainedState } from './retained-state.js';
import { isStateTopic } from './state-filter.js';

/** The retained-message part of an Aedes persistence (aedes-persistence's API, as Aedes 1.x calls it). */
export interface RetainedPersistence {
  storeRetained(packet: AedesPublishPacket): Promise<void>;
  createRetainedStream(pattern: string): Readable;
  createRetainedStreamCombi(patterns: string[]): Readable;
}

/**
 * Makes an Aedes persistence serve the state topics from the replica: its retained lookups (a
 * SUBSCRIBE's retained messages) return, for every filter, the persistence's own retained
 * messages (presence, the hub announcement, user topics: bounded per client by
 * broker/retained-budget.ts) followed by the matching live keys (broker/retained-state.ts); a
 * retained message on a state topic is never stored (the replica is the only source of state).
 * Replaces these three methods of `persistence` in place; the rest of it is untouched.
 */
export function serveStateFromReplica(persistence: RetainedPersistence, ns: string, state: RetainedState): void {
  const store = persistence.storeRetained.bind(persistence);
  const stream = persistence.createRetainedStream.bind(persistence);
  async function* one(pattern: string): AsyncGenerator<unknown> {
    for await (const packet of stream(pattern) as AsyncIterable<{ topic: string }>) {
      if (!isStateTopic(ns, packet.topic)) yield packet;
    }
    yield* state.messages(pattern);
  }
  async function* all(patterns: readonly string[]): AsyncGenerator<unknown> {
    for (const pattern of patterns) yield* one(pattern);
  }
  persistence.storeRetained = (packet) => (isStateTopic(ns, packet.topic) ? Promise.resolve() : store(packet));
  persistence.createRetainedStream = (pattern) => Readable.from(one(pattern));
  persistence.createRetainedStreamCombi = (patterns) => Readable.from(all(patterns));
}
