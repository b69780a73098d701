import type { Context } from '../src/context.js';
import { canonical } from '../src/ham/lexical.js';
import type { ChangeEvent, Replica } from '../src/sync/replica.js';
import { encodeState } from '../src/wire/codec.js';
import { topics } from '../src/wire/topics.js';
import type { Publisher } from './publisher.js';

/** The resolved live view, published retained on `hamsync/<ns>/state/<key>`: all of it on attach, then every change. */
export class StatePublisher {
  private readonly onChange = (c: ChangeEvent): void => this.publishState(c.key, c.text, c.state, c.source, c.sig);

  constructor(
    private readonly ctx: Context,
    private readonly replica: Replica,
    private readonly publisher: Publisher,
  ) {}

  /** Follows the replica's changes and republishes its live view; returns how many keys that was. */
  start(): number {
    this.replica.on('change', this.onChange);
    let n = 0;
    for (const e of this.replica.live()) {
      this.publishState(e.key, canonical(e.value), e.state, e.source, e.sig);
      n++;
    }
    return n;
  }

  stop(): void {
    this.replica.off('change', this.onChange);
  }

  private publishState(key: string, text: string, state: number, source: string, sig: string | undefined): void {
    this.publisher.publish(topics.state(this.ctx.ns, key), encodeState(text, state, source, sig), true);
  }
}
