import { openStore } from '../store/open.js';
import type { HistoryRow } from '../store/rows.js';
import { asOf } from './as-of.js';
import type { Format } from './format.js';
import { pacer, wallTimer, type Timer } from './pace.js';
import { Progress } from './progress.js';
import { estimate, select, type Selection } from './select.js';
import { textSink, type Sink } from './sink.js';

export interface ReplayOptions extends Selection {
  dataDir: string;
  format?: Format;
  /** File to write; default stdout. Ignored when `sink` is given. */
  out?: string;
  /** A ready sink (e.g. MQTT); default a text sink. */
  sink?: Sink;
  /** State gaps divided by this; 'max' (default) as fast as possible. */
  speed?: number | 'max';
  /** Start over at the end, until stopped. */
  loop?: boolean;
  /** Print the live view as of this state instead of rows. */
  asOf?: number;
  quiet?: boolean;
  timer?: Timer;
  /** Polled between rows: return true to stop cleanly (Ctrl-C). */
  stopped?: () => boolean;
}

export interface ReplaySummary {
  rows: number;
  passes: number;
  stopped: boolean;
}

/**
 * Replays a data directory's history (opened read-only: works beside a running daemon or on a
 * copy) to a sink, paced or not, or prints the state as of a time.
 */
export async function runReplay(options: ReplayOptions): Promise<ReplaySummary> {
  const store = openStore(options.dataDir, { readOnly: true });
  const sink = options.sink ?? textSink(options.format ?? 'ndjson', options.out);
  const stopped = options.stopped ?? (() => false);
  const summary: ReplaySummary = { rows: 0, passes: 0, stopped: false };
  try {
    if (options.asOf !== undefined) {
      for (const r of asOf(store, options.asOf, { byReceived: options.by === 'received', keys: options.keys, sources: options.sources })) {
        await sink.write(r.state, r.row);
        summary.rows++;
      }
      summary.passes = 1;
      return summary;
    }
    const progress = new Progress(options.loop ? undefined : estimate(store, options), { quiet: options.quiet });
    do {
      const wait = pacer(options.speed ?? 'max', options.timer ?? wallTimer, stopped);
      const paced = options.speed !== undefined && options.speed !== 'max';
      const before = summary.rows;
      // Give the event loop a turn each pass (and every few thousand rows): signals must get through.
      await new Promise((r) => setImmediate(r));
      for (const { state, row } of select(store, options)) {
        if (stopped()) {
          summary.stopped = true;
          break;
        }
        if (paced) await wait(options.by === 'received' ? row.rx : state);
        const w = sink.write(state, row as HistoryRow);
        if (w) await w;
        summary.rows++;
        progress.tick();
        if ((summary.rows & 4095) === 0) await new Promise((r) => setImmediate(r));
      }
      summary.passes++;
      // A loop over nothing would spin forever: one empty pass ends it.
      if (summary.rows === before) break;
    } while (options.loop && !summary.stopped && !stopped());
    progress.done();
    return summary;
  } finally {
    await sink.close();
    await store.root.close();
  }
}
