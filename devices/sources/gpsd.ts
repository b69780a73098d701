/**
 * gpsd: position, fix and GPS time from a GPS unit, through gpsd's JSON protocol over TCP
 * (https://gpsd.io/gpsd_json.html). Connects to `host:port` (default 127.0.0.1:2947), sends
 * `?WATCH={"enable":true,"json":true}` and reads newline-delimited JSON reports; TPV reports
 * become readings (see gpsd-tpv.ts):
 *
 * | key | value |
 * |---|---|
 * | `<prefix>/gps/fix` | `"none"` (mode 0/1), `"2d"`, `"3d"` |
 * | `<prefix>/gps/lat`, `gps/lon` | degrees |
 * | `<prefix>/gps/alt` | m above mean sea level (`altMSL`, else `alt`) |
 * | `<prefix>/gps/speed` | m/s over ground |
 * | `<prefix>/gps/track` | degrees from true north |
 * | `<prefix>/gps/time` | the GPS time, gpsd's ISO 8601 string |
 * | `<prefix>/gps/clock-offset-ms` | GPS time - system clock at receipt, ms (> 0: the GPS is ahead) |
 *
 * At most one batch per `interval` (default 1s): the latest TPV received in that interval;
 * an interval without a TPV emits nothing. Fields a TPV lacks give no reading.
 *
 * How readings are stamped (`stamp` option):
 *
 * - `'clock'` (default): like any other reading, by the daemon's clock. The GPS time is only a
 *   value (`gps/time`), and `gps/clock-offset-ms` shows how far the GPS and the system disagree,
 *   the drift HAM defends against. Safe with any receiver.
 * - `'gps'`: every reading of a TPV carries the GPS time (ms) as its HAM state, so replicas order
 *   fixes by when the satellites say they happened. A receiver that reports a date in the future
 *   (a GPS week rollover bug can put it ~19.6 years ahead; the HAB-GPSPI capture in the tests
 *   decodes to 2035) then has its readings DEFERRED by HAM until that time comes, instead of
 *   silently winning over every later update: that is the point of HAM, and the reason
 *   `'clock'` is the default. A TPV without a valid time gives no readings in this mode.
 *
 * Robustness: gpsd absent or restarting → reconnect with exponential backoff (`reconnectMin`
 * default 1s, `reconnectMax` default 30s); lines longer than `maxLine` characters (default
 * 65536) are dropped and counted; malformed lines (not JSON, not an object with a `class`) are
 * ignored and counted; invalid or missing times give no `time`/`clock-offset-ms` reading.
 * Counters: `stats()`.
 */
import net from 'node:net';
import type { Logger } from '../../src/log.js';
import type { Emit, Reading, Source } from '../source.js';
import { Backoff } from '../../src/util/backoff.js';
import { LineSplitter } from '../util/lines.js';
import { tpvReadings, type GpsStamp } from './gpsd-tpv.js';

/** Validated options of a gpsd source. */
export interface GpsdOptions {
  name: string;
  prefix: string;
  intervalMs: number;
  host: string;
  port: number;
  stamp: GpsStamp;
  /** Longest accepted line, in characters. */
  maxLine: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

/** Default `interval` of a gpsd source. */
export const GPSD_DEFAULT_INTERVAL_MS = 1000;

/** What a gpsd source has seen since it was constructed. */
export interface GpsdStats {
  /** TCP connections established. */
  connects: number;
  /** Lines received (well-formed or not, overlong ones excluded). */
  lines: number;
  /** Lines that were not JSON objects with a string `class`. */
  malformed: number;
  /** Lines dropped for being longer than `maxLine`. */
  oversized: number;
  /** TPV reports. */
  tpv: number;
  /** TPV reports without a valid time. */
  untimed: number;
  /** Batches emitted. */
  batches: number;
  /** Whether a connection is up now. */
  connected: boolean;
}

const WATCH = '?WATCH={"enable":true,"json":true}\n';
const CONNECT_TIMEOUT_MS = 10_000;

/** The gpsd source (see the file header for keys, options and stamping). */
export class GpsdSource implements Source {
  readonly name: string;
  private readonly counters: Omit<GpsdStats, 'connected'> = { connects: 0, lines: 0, malformed: 0, oversized: 0, tpv: 0, untimed: 0, batches: 0 };
  private session: Session | undefined;

  /** `now` is the system clock the clock offset is measured against (tests may replace it). */
  constructor(
    readonly options: GpsdOptions,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.name = options.name;
  }

  start(emit: Emit): void {
    if (this.session) throw new Error(`source ${this.name} is already running`);
    this.session = new Session(this.options, this.log, this.now, this.counters, emit);
  }

  async stop(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    await session?.close();
  }

  /** Counters since construction. */
  stats(): GpsdStats {
    return { ...this.counters, connected: this.session?.connected ?? false };
  }
}

/** One start()..stop() of a gpsd source: the connection, its reconnects and the emit timer. */
class Session {
  private socket: net.Socket | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly emitTimer: NodeJS.Timeout;
  private readonly backoff: Backoff;
  private readonly splitter: LineSplitter;
  private latest: Reading[] | undefined;
  private closed = false;
  private failures = 0;
  connected = false;

  constructor(
    private readonly options: GpsdOptions,
    private readonly log: Logger,
    private readonly now: () => number,
    private readonly counters: Omit<GpsdStats, 'connected'>,
    private readonly emit: Emit,
  ) {
    this.backoff = new Backoff(options.reconnectMinMs, options.reconnectMaxMs);
    this.splitter = new LineSplitter(
      options.maxLine,
      (line) => this.line(line),
      () => {
        this.counters.oversized++;
        this.log.debug('gpsd line longer than maxLine dropped', { maxLine: options.maxLine });
      },
    );
    this.emitTimer = setInterval(() => this.flush(), options.intervalMs);
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const { host, port } = this.options;
    const socket = net.connect({ host, port });
    this.socket = socket;
    this.splitter.reset();
    socket.setEncoding('utf8');
    socket.setNoDelay(true);
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error(`connect timed out after ${CONNECT_TIMEOUT_MS} ms`)));
    let error: Error | undefined;
    socket.on('connect', () => {
      socket.setTimeout(0);
      socket.setKeepAlive(true, 10_000);
      this.connected = true;
      this.counters.connects++;
      this.log.info('connected to gpsd', { host, port });
      socket.write(WATCH);
    });
    socket.on('data', (chunk: string) => {
      if (!this.closed) this.splitter.push(chunk);
    });
    socket.on('error', (err) => {
      error = err;
    });
    socket.on('close', () => {
      const wasConnected = this.connected;
      this.connected = false;
      if (this.socket === socket) this.socket = undefined;
      if (this.closed) return;
      const delay = this.backoff.next();
      this.failures++;
      const fields = { host, port, error: error ? ((error as NodeJS.ErrnoException).code ?? error.message) : 'closed by gpsd', retryInMs: delay };
      // Say it loudly once, then quietly while gpsd stays away.
      if (wasConnected || this.failures === 1) this.log.warn(wasConnected ? 'lost gpsd connection' : 'gpsd not reachable', fields);
      else this.log.debug('gpsd still not reachable', fields);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = undefined;
        this.connect();
      }, delay);
    });
  }

  private line(line: string): void {
    this.counters.lines++;
    if (line.trim() === '') return;
    let report: unknown;
    try {
      report = JSON.parse(line);
    } catch {
      report = undefined;
    }
    if (typeof report !== 'object' || report === null || Array.isArray(report) || typeof (report as { class?: unknown }).class !== 'string') {
      this.counters.malformed++;
      this.log.debug('malformed gpsd line ignored', { line: line.slice(0, 120) });
      return;
    }
    // A well-formed report: the connection works, so the next failure starts the backoff afresh.
    this.backoff.reset();
    this.failures = 0;
    const r = report as Record<string, unknown>;
    switch (r.class) {
      case 'TPV': {
        this.counters.tpv++;
        const { readings, gpsMs } = tpvReadings(r, this.now(), this.options.prefix, this.options.stamp);
        if (gpsMs === undefined) this.counters.untimed++;
        if (readings.length > 0) this.latest = readings;
        break;
      }
      case 'VERSION':
        this.log.debug('gpsd version', { release: r.release, proto: `${String(r.proto_major)}.${String(r.proto_minor)}` });
        break;
      case 'ERROR':
        this.log.warn('gpsd reported an error', { message: typeof r.message === 'string' ? r.message.slice(0, 200) : undefined });
        break;
      default:
        break;
    }
  }

  private flush(): void {
    const batch = this.latest;
    this.latest = undefined;
    if (!batch || this.closed) return;
    this.counters.batches++;
    try {
      this.emit(batch);
    } catch (err) {
      this.log.warn('gpsd emit failed', { error: String(err) });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.emitTimer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      socket.destroy();
      await gone;
    }
    this.connected = false;
  }
}
