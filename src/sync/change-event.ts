import type { Json } from '../ham/lexical.js';
import type { Change } from './resolve.js';

export interface ChangeEvent {
  readonly key: string;
  readonly value: Json;
  /** The value's canonical JSON text. */
  text: string;
  state: number;
  source: string;
  deferred: boolean;
  /** The source's signature of the update (base64url), when it came signed. */
  sig?: string;
}

/** The `change` events of one committed batch, made one at a time as they are emitted. */
export function* changeEvents(changes: Change[]): Generator<ChangeEvent> {
  for (const c of lastPerKey(changes)) yield new AppliedChange(c);
}

/** Within one batch only a key's final change is announced (an update and its tie-breaker, say). */
function lastPerKey(changes: Change[]): Change[] {
  if (changes.length < 2) return changes;
  const last = new Map<string, Change>();
  for (const c of changes) {
    last.delete(c.key);
    last.set(c.key, c);
  }
  return [...last.values()];
}

/** A change event whose value is parsed only if someone reads it (the hub needs just the text). */
class AppliedChange implements ChangeEvent {
  readonly key: string;
  readonly text: string;
  readonly state: number;
  readonly source: string;
  readonly deferred: boolean;
  readonly sig?: string;

  constructor(c: Change) {
    this.key = c.key;
    this.text = c.text;
    this.state = c.state;
    this.source = c.source;
    this.deferred = c.deferred;
    if (c.sig !== undefined) this.sig = c.sig;
  }

  get value(): Json {
    return JSON.parse(this.text) as Json;
  }
}
