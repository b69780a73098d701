/**
 * Pushes this node's own accepted updates to the shared stream (docs/cluster.md "Pushing"):
 * after a batch is durable (clients are acknowledged before, never waiting on Redis), it reads
 * the change log from the durable `pushed` position, skips rows that came from the cluster
 * (`x`), XADDs the rest (a few hundred rows per entry, at most `entriesPerRound` entries per
 * round trip) through a script that checks the stream's generation and numbers the entries, and
 * then stores the new `pushed` position. A crash between the acknowledgement and the XADD loses
 * nothing: the next start pushes from `pushed` again (duplicates are harmless under HAM).
 */
import type { Context } from '../../src/context.js';
import type { ChangeRow } from '../../src/store/rows.js';
import type { Replica } from '../../src/sync/replica.js';
import type { RedisLink } from './link.js';
import { clusterKeys, encodeRows } from './stream-codec.js';

/**
 * KEYS: log, gen, count. ARGV: gen, maxlen, origin, rows... Refuses ("GEN") when the stream's
 * generation is not the one the node follows; numbers entries 1, 2, 3, … with `n`.
 */
export const PUSH_SCRIPT = `
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return redis.error_reply('GEN the stream generation changed') end
local last = ''
for i = 4, #ARGV do
  local n = redis.call('INCR', KEYS[3])
  last = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'o', ARGV[3], 'g', ARGV[1], 'n', n, 'r', ARGV[i])
end
return last`;

export interface PusherOptions {
  nodeId: string;
  logMax: number;
  /** Rows per stream entry. Default 200. */
  rowsPerEntry?: number;
  /** Entries per round trip (what is in flight). Default 16. */
  entriesPerRound?: number;
  /** The stream generation this node follows (undefined until the consumer confirmed it). */
  gen(): string | undefined;
  /** Test hook: called before each XADD round; throwing fails the round as a Redis error would. */
  beforePush?(): void;
}

export class Pusher {
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private pos: number;
  private readonly retry: NodeJS.Timeout;
  private readonly keys: ReturnType<typeof clusterKeys>;
  private readonly onHead = (): void => this.kick();

  constructor(
    private readonly ctx: Context,
    private readonly replica: Replica,
    private readonly link: RedisLink,
    private readonly o: PusherOptions,
  ) {
    this.keys = clusterKeys(ctx.ns);
    this.pos = replica.clusterMarks().pushed();
    replica.on('head', this.onHead);
    link.on('up', this.onHead);
    // Retries a failed round (Redis away, generation not confirmed yet) without waiting for new writes.
    this.retry = setInterval(() => this.kick(), 1000);
    this.retry.unref();
  }

  /** The change log position pushed so far. */
  get pushed(): number {
    return this.pos;
  }

  /** Change log positions not pushed yet (external rows among them are skipped when reached). */
  get unpushed(): number {
    return Math.max(0, (this.replica.changeLog?.head ?? 0) - this.pos);
  }

  /** Pushes everything from `pos` again (the stream lost its data: peers that were away need it). */
  async restartFrom(pos: number): Promise<void> {
    await this.running;
    this.pos = pos;
    await this.replica.clusterMarks().setPushed(pos);
  }

  /** Starts a round unless one runs (then another follows it). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.rounds().finally(() => {
      this.running = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** Resolves once no round runs. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.retry);
    this.replica.off('head', this.onHead);
    this.link.off('up', this.onHead);
    await this.running;
  }

  private async rounds(): Promise<void> {
    try {
      while (!this.stopped && this.link.up && this.o.gen() !== undefined && this.pos < (this.replica.changeLog?.head ?? 0)) {
        await this.round();
      }
    } catch (err) {
      this.ctx.counters.inc('cluster.push.failed');
      const msg = (err as Error).message;
      if (!msg.startsWith('GEN')) this.link.failed(err as Error);
      this.ctx.log.debug('cluster push failed; retrying', { err: msg });
    }
  }

  private async round(): Promise<void> {
    const log = this.replica.changeLog;
    const gen = this.o.gen();
    if (!log || gen === undefined) return;
    // Only what is on disk: a row is pushed after its batch is durable (and acknowledged).
    await this.replica.flushed();
    const perEntry = this.o.rowsPerEntry ?? 200;
    const limit = perEntry * (this.o.entriesPerRound ?? 16);
    const own: ChangeRow[] = [];
    let last = this.pos;
    for (const { pos, row } of log.read(this.pos, limit)) {
      last = pos;
      if (row.x !== 1) own.push(row);
    }
    if (last === this.pos) return;
    if (own.length > 0) {
      const entries: string[] = [];
      for (let i = 0; i < own.length; i += perEntry) entries.push(encodeRows(own.slice(i, i + perEntry)));
      this.o.beforePush?.();
      await this.link.cmd.eval(PUSH_SCRIPT, 3, this.keys.log, this.keys.gen, this.keys.count, gen, String(this.o.logMax), this.o.nodeId, ...entries);
      this.ctx.counters.inc('cluster.pushed.entries', entries.length);
      this.ctx.counters.inc('cluster.pushed.updates', own.length);
    }
    this.pos = last;
    await this.replica.clusterMarks().setPushed(last);
  }
}
