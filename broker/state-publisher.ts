import type { Context } from '../src/context.js';
import type { ChangeEvent, Replica } from '../src/sync/replica.js';
import { encodeState } from '../src/wire/codec.js';
import { topics } from '../src/wire/topics.js';
import type { Publisher } from './publisher.js';
import type { StateAudience } from './state-audience.js';

/**
 * Every change of the resolved live view, published live (not retained) on
 * `hamsync/<ns>/state/<key>` to the subscribers of the moment. What a subscriber gets on
 * SUBSCRIBE, the retained state, is read from the live view itself (broker/retained-store.ts):
 * nothing is republished at start and no key is kept twice. While no subscription can match a
 * state topic (broker/state-audience.ts), changes are not published at all (counted
 * `state.unheard`; published ones `state.published`).
 */
export class StatePublisher {
  private readonly onChange = (c: ChangeEvent): void => this.publishState(c.key, c.text, c.state, c.source, c.sig);

  constructor(
    private readonly ctx: Context,
    private readonly replica: Replica,
    private readonly publisher: Publisher,
    private readonly audience: StateAudience,
  ) {}

  /** Follows the replica's changes. */
  start(): void {
    this.replica.on('change', this.onChange);
  }

  stop(): void {
    this.replica.off('change', this.onChange);
  }

  private publishState(key: string, text: string, state: number, source: string, sig: string | undefined): void {
    if (!this.audience.any) {
      this.ctx.counters.inc('state.unheard');
      return;
    }
    this.ctx.counters.inc('state.published');
    this.publisher.publish(topics.state(this.ctx.ns, key), encodeState(text, state, source, sig), false);
  }
}
