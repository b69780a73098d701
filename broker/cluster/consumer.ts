/**
 * Applies the shared stream to this node's hub replica (docs/cluster.md "Consuming"): XREAD
 * BLOCK from the stored position, in bounded batches (COUNT); entries of its own are skipped,
 * every row is checked (src/model/update.ts: a bad one is counted and skipped, never fatal),
 * and the updates are applied as external (their change log rows marked, never pushed again)
 * together with the new position, in one LMDB transaction (same event-loop turn). The next read
 * waits until that batch is durable. Before reading, and whenever an entry shows a hole or
 * another generation, the start is decided again (stream-codec.ts decideStart): a gap runs the
 * peer snapshots and then consumes from the stream's last entry.
 */
import { randomBytes } from 'node:crypto';
import type { Context } from '../../src/context.js';
import { isHamsyncError } from '../../src/errors.js';
import { checkUpdate } from '../../src/model/update.js';
import type { StreamMark } from '../../src/store/cluster-marks.js';
import type { Admission, Replica } from '../../src/sync/replica.js';
import type { RedisLink } from './link.js';
import { clusterKeys, decideStart, decodeRows, parseEntry, type StartDecision, type StreamInfo } from './stream-codec.js';

export interface ConsumerOptions {
  nodeId: string;
  /** Entries per read. Default 100. */
  count?: number;
  /** A gap was found: take peer snapshots (resolves when done, whatever their outcome). */
  gap(decision: Extract<StartDecision, { kind: 'gap' }>): Promise<void>;
}

type XreadReply = [string, [string, string[]][]][] | null;

export class Consumer {
  /** Where this node stands; undefined until the start was decided. */
  private at: StreamMark | undefined;
  private synced = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly keys: ReturnType<typeof clusterKeys>;
  private readonly onDown = (): void => {
    this.synced = false;
  };
  private readonly onUp = (): void => this.wake?.();

  constructor(
    private readonly ctx: Context,
    private readonly replica: Replica,
    private readonly link: RedisLink,
    private readonly o: ConsumerOptions,
  ) {
    this.keys = clusterKeys(ctx.ns);
    this.at = replica.clusterMarks().stream();
    link.on('down', this.onDown);
    link.on('up', this.onUp);
  }

  /** The generation confirmed with Redis (undefined while not in sync with the stream). */
  get gen(): string | undefined {
    return this.synced ? this.at?.gen : undefined;
  }

  /** The stored position (entry id and number). */
  get mark(): StreamMark | undefined {
    return this.at;
  }

  /** Decide the start again before the next read (the generation key changed). */
  resync(): void {
    this.synced = false;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.link.off('down', this.onDown);
    this.link.off('up', this.onUp);
    this.wake?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if (!this.link.up) {
          await this.pause(500);
          continue;
        }
        if (!this.synced) await this.sync();
        else await this.readOnce();
      } catch (err) {
        if (this.stopped) break;
        this.ctx.counters.inc('cluster.read.failed');
        this.ctx.log.debug('cluster stream read failed; retrying', { err: (err as Error).message });
        this.link.failed(err as Error);
        this.synced = false;
        await this.pause(500);
      }
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /** The generation key (made when missing: Redis is new or lost its data) and the stream's extent, read atomically. */
  async info(): Promise<StreamInfo> {
    await this.link.cmd.set(this.keys.gen, randomBytes(9).toString('base64url'), 'NX');
    const replies = await this.link.cmd.multi().get(this.keys.gen).get(this.keys.count).xlen(this.keys.log).xrevrange(this.keys.log, '+', '-', 'COUNT', 1).exec();
    if (!replies) throw new Error('the stream info transaction was aborted');
    for (const [err] of replies) if (err) throw err;
    const [gen, count, length, last] = replies.map(([, v]) => v) as [string | null, string | null, number, [string, string[]][]];
    if (gen === null) throw new Error('the stream generation key vanished');
    return { gen, added: Number(count ?? 0), length, last: last[0]?.[0] ?? '0-0' };
  }

  private async sync(): Promise<void> {
    const decision = decideStart(this.at, await this.info());
    if (decision.kind === 'gap') {
      this.ctx.counters.inc(`cluster.gaps.${decision.why}`);
      this.ctx.log.warn('cluster stream gap: taking snapshots from the peers, then consuming from the stream end', { why: decision.why, detail: decision.detail });
      await this.o.gap(decision);
      if (this.stopped) return;
    }
    this.at = decision.mark;
    this.replica.clusterMarks().setStream(decision.mark);
    await this.replica.flushed();
    this.synced = true;
    this.ctx.log.info('cluster stream followed', { gen: decision.mark.gen, id: decision.mark.id, n: decision.mark.n, start: decision.kind });
  }

  private async readOnce(): Promise<void> {
    const at = this.at as StreamMark;
    const reply = (await this.link.blocking.xread('COUNT', this.o.count ?? 100, 'BLOCK', this.link.blockMs, 'STREAMS', this.keys.log, at.id)) as XreadReply;
    if (this.stopped || !this.synced) return;
    const entries = reply?.[0]?.[1] ?? [];
    if (entries.length === 0) return;
    const next: StreamMark = { ...at };
    const admissions: Admission[] = [];
    let rejected = 0;
    let applied = 0;
    for (const [id, fields] of entries) {
      const e = parseEntry(id, fields);
      if (!e) {
        // Not one of ours: stepped over (its number is unknown, the next entry's tells).
        this.ctx.counters.inc('cluster.entries.malformed');
        next.id = id;
        continue;
      }
      if (e.gen !== next.gen || e.n > next.n + 1) {
        // Another generation, or a hole (trimmed while this node read): decide the start again.
        this.synced = false;
        break;
      }
      next.id = id;
      if (e.n <= next.n) continue;
      next.n = e.n;
      this.ctx.counters.inc('cluster.entries.read');
      if (e.origin === this.o.nodeId) continue;
      const { updates, bad } = decodeRows(e.rows ?? '');
      rejected += bad;
      updates.forEach((u, i) => {
        try {
          admissions.push(this.replica.admit([checkUpdate(u, this.replica.limits, i)]));
          applied++;
        } catch (err) {
          if (!isHamsyncError(err)) throw err;
          rejected++;
          this.ctx.counters.inc(`cluster.rejected.${err.code}`);
        }
      });
    }
    if (rejected > 0) {
      this.ctx.counters.inc('cluster.rows.rejected', rejected);
      this.ctx.log.warn('cluster stream rows rejected (skipped)', { rows: rejected });
    }
    if (next.id === at.id) return;
    // The updates and the position in one transaction: queued in this same turn.
    const receipt = this.replica.receiveAdmitted(admissions, { external: true });
    this.replica.clusterMarks().setStream(next);
    this.at = next;
    if (applied > 0) this.ctx.counters.inc('cluster.applied.updates', applied);
    // Backpressure: read on once this batch is on disk.
    await receipt.durable;
  }
}
