import type { Server } from 'node:http';
import { Counters } from '../counters.js';
import { createContext } from '../context.js';
import { HamsyncError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { checkBatch, type CheckedUpdate } from '../model/update.js';
import { Replica, type ReplicaOptions } from '../sync/replica.js';
import { DEFAULT_WIRE_LIMITS, encodePut } from '../wire/codec.js';
import { topics } from '../wire/topics.js';
import { Forwarder } from './forwarder.js';
import { startHttpApi } from './http.js';
import { Link } from './link.js';
import { buildSources, startSources } from './sources.js';
import type { Source } from '../../devices/index.js';
import { daemonConfig, type DaemonConfig, type DaemonInput } from './options.js';
import { loadSigning, resignOutbox, signAll, type DaemonSigning } from './signing.js';
import { Verifier } from './verifier.js';
import { ClockGuard, gpsTimeOf } from './clock-guard.js';
import { GpsdSource } from '../../devices/index.js';
import { WallClock } from '../ham/wall-clock.js';
import type { DaemonApi, LocalPut, PutResult } from './api.js';
import { ProcessInfo } from '../admin/process-info.js';

export type { LocalPut, PutResult } from './api.js';
export type { DaemonInput } from './options.js';


/**
 * The device daemon: its own replica (HAM with its own clock), the store-and-forward
 * outbox, the MQTT link to the broker and the local HTTP API.
 */
export class Daemon implements DaemonApi {
  private stopping: Promise<void> | undefined;
  private sources: Source[] = [];
  /** The last `gps/clock-offset-ms` a gpsd source read (GPS time - system clock, ms), or null. */
  gpsOffsetMs: number | null = null;

  private constructor(
    readonly config: DaemonConfig,
    readonly counters: Counters,
    readonly replica: Replica,
    private readonly forwarder: Forwarder,
    private readonly link: Link,
    private readonly http: Server,
    readonly httpPort: number,
    private readonly log: Logger,
    private readonly signing: DaemonSigning,
    private readonly guard: ClockGuard,
    private readonly stopWatch: () => void,
    /** Version, uptime and the last error logged (status, metrics). */
    readonly info: ProcessInfo,
  ) {}

  static async start(input: DaemonInput, baseLog: Logger = silentLogger, replicaExtra: Omit<ReplicaOptions, 'dataDir'> = {}): Promise<Daemon> {
    const info = new ProcessInfo();
    const log = info.track(baseLog);
    const config = daemonConfig(input);
    const sources = buildSources(config.sources, config.id, log);
    // Key files are read before anything is opened: a bad one fails the start.
    const signing = loadSigning(config);
    const counters = new Counters();
    const ctx = createContext({ ns: config.ns, log, counters });
    const guard = new ClockGuard(ctx, config.maxClockAheadMs);
    const replica = await Replica.open({ clockOffsetMs: config.clockOffsetMs, clockDriftPpm: config.clockDriftPpm, clockReference: guard, retention: config.retention, ...config.queues, ...replicaExtra, dataDir: config.dataDir,
      lock: 'daemon', owner: { role: 'daemon', id: config.id, ns: config.ns } });
    if (replica.clock instanceof WallClock) guard.bind(replica.clock);
    if (replica.migratedFrom !== undefined) log.info(`data dir migrated from store format ${replica.migratedFrom} to 2`, { dataDir: config.dataDir });
    replica.retention?.on('pruned', (run) => log.info('history pruned', { ...run }));
    try {
      await resignOutbox(replica.outbox(), config.id, signing.signer, log);
    } catch (err) {
      await replica.close();
      throw err;
    }
    const forwarder = new Forwarder(replica.outbox(), topics.put(config.ns, config.id), config.window, log, (n) => counters.inc('updates.sent', n), config.id);
    const ref: { daemon?: Daemon } = {};
    let http: { server: Server; port: number };
    try {
      http = await startHttpApi(config.http, () => ref.daemon, log);
    } catch (err) {
      await replica.close();
      throw err;
    }
    const link = new Link(ctx, config, replica, new Verifier(ctx, signing), {
      connected: (client) => forwarder.connected(client),
      disconnected: () => forwarder.disconnected(),
      hubTime: (t, monotonicMs) => guard.observe(t, monotonicMs, 'hub'),
    });
    const daemon = new Daemon(config, counters, replica, forwarder, link, http.server, http.port, log, signing, guard, guard.watch(5000), info);
    ref.daemon = daemon;
    daemon.sources = sources;
    startSources(sources, (readings, source) => {
      // A gpsd source's fix time is a reference for the clock guard.
      const gps = source instanceof GpsdSource ? gpsTimeOf(readings) : undefined;
      if (gps !== undefined) guard.observe(gps, performance.now(), 'gps');
      if (source instanceof GpsdSource) daemon.gpsOffsetMs = gpsOffsetOf(readings) ?? daemon.gpsOffsetMs;
      return daemon.put(readings as LocalPut[]);
    }, log, () => counters.inc('sources.put-failed'));
    log.info('daemon started', {
      id: config.id, ns: config.ns, broker: config.brokers.length > 1 ? config.brokers : config.broker, http: `${config.http.host}:${http.port}`, clockOffsetMs: config.clockOffsetMs,
      signing: { pub: signing.signer?.pub ?? 'none (unsigned)', keys: signing.keyring.size, requireSigned: signing.requireSigned },
    });
    return daemon;
  }

  /**
   * Stamps (and, with a signing key, signs) local updates, resolves and stores them and queues
   * them for the broker, in one LMDB transaction; resolves once that is durable on disk.
   */
  async put(items: readonly LocalPut[]): Promise<PutResult[]> {
    const outbox = this.replica.outbox();
    if (outbox.queuedUpdates + items.length > this.config.outboxMax) {
      // Policy when full: refuse new local puts (never drop queued ones silently).
      this.counters.inc('updates.refused-outbox-full', items.length);
      throw new HamsyncError('HAMSYNC_ERR_OUTBOX_FULL', `the outbox holds ${outbox.queuedUpdates} updates not yet acknowledged by the broker; the limit is ${this.config.outboxMax}; nothing was stored`);
    }
    const stamped = items.map((i) => ({ key: i.key, value: i.value, state: 'state' in i ? (i.state as number) : this.replica.stamp(), source: this.config.id }));
    const checked = checkBatch(stamped, this.replica.limits);
    // Signed right after stamping: the replica, the outbox and every peer get the same signature.
    const signer = this.signing.signer;
    const updates = signer ? signAll(signer, checked) : checked;
    const receipt = this.replica.receiveChecked(updates);
    for (const m of putMessages(this.config.id, updates, DEFAULT_WIRE_LIMITS.maxPayloadBytes)) outbox.append(m.payload, m.count);
    this.counters.inc('updates.local', updates.length);
    await this.replica.flushed();
    await receipt.committed;
    this.forwarder.kick();
    return receipt.results.map((r, i) => ({ ...r, key: updates[i]?.key as string, state: updates[i]?.state as number }));
  }

  /** Whether the MQTT link to the broker is up. */
  get connected(): boolean {
    return this.link.connected;
  }

  /** The link's state (connecting, connected, offline, stopped), failed attempts, last error. */
  linkStatus(): ReturnType<Link['status']> {
    return this.link.status();
  }

  /** Sync v2: mode, position, head, backlog. */
  syncStatus(): ReturnType<Link['syncStatus']> {
    return this.link.syncStatus();
  }

  status(): Record<string, unknown> {
    const outbox = this.replica.outbox().size();
    let live = 0;
    for (const _ of this.replica.live()) live++;
    const queues = this.replica.queues();
    return {
      id: this.config.id,
      /** version, uptimeS, lastError {message, code, at} (the last error logged). */
      ...this.info.status(),
      ns: this.config.ns,
      /** The broker connected to (or tried next), and all of them when there are several. */
      broker: this.link.brokers.current,
      ...(this.config.brokers.length > 1 ? { brokers: this.config.brokers } : {}),
      connected: this.link.connected,
      /** state, since, failedAttempts, lastError {message, code, at}, nextAttemptAt (ms since the epoch). */
      link: this.link.status(),
      /** Sync protocol v2: mode (hub | peer), setting (auto | hub | peer), hub {id, epoch}, position, head, backlog, pages, last (resume | snapshot). */
      sync: this.link.syncStatus(),
      clock: { now: this.replica.now(), offsetMs: this.config.clockOffsetMs, wall: Date.now() },
      /** The clock guard: state (no-reference | ok | ahead), reference, aheadMs, maxAheadMs, cause, since, sources. */
      clockGuard: this.guard.status(),
      live,
      deferred: queues.totals.deferred,
      quarantined: queues.totals.quarantined,
      /** Per source: deferred, deferredBytes, quarantined, quarantinedBytes (sources with nothing waiting are left out). */
      queues: queues.sources,
      queueLimits: queues.limits,
      outbox: { ...outbox, inflight: this.forwarder.pending, ...(this.forwarder.held ? { held: this.forwarder.held } : {}) },
      outboxMax: this.config.outboxMax,
      subscribe: this.config.subscribe,
      signing: { pub: this.signing.signer?.pub ?? null, keys: this.signing.keyring.size, requireSigned: this.signing.requireSigned, followState: this.config.followState },
      counters: { ...this.counters.snapshot(), ...this.replica.counters.snapshot() },
    };
  }

  /** Stops taking input, gives in-flight puts a moment to be acknowledged, flushes and closes LMDB. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.log.info('daemon stopping');
      this.stopWatch();
      await Promise.all(this.sources.map((s) => s.stop()));
      this.http.closeAllConnections?.();
      await new Promise((r) => this.http.close(r));
      if (this.link.connected) await this.forwarder.drained(2000);
      this.forwarder.stop();
      await this.link.close();
      await this.replica.close();
      this.log.info('daemon stopped');
    })();
    return this.stopping;
  }
}

/**
 * The put messages of one local batch: one, unless its payload would be over `maxBytes` (the
 * broker's payload limit, which would refuse it whole): then as many as it takes, in order.
 */
export function putMessages(id: string, updates: readonly CheckedUpdate[], maxBytes: number): { payload: string; count: number }[] {
  const whole = encodePut(id, updates);
  if (updates.length <= 1 || Buffer.byteLength(whole) <= maxBytes) return [{ payload: whole, count: updates.length }];
  const empty = Buffer.byteLength(encodePut(id, []));
  const out: { payload: string; count: number }[] = [];
  let start = 0;
  let bytes = empty;
  updates.forEach((u, i) => {
    // One update's share of a payload: its object and a comma.
    const size = Buffer.byteLength(encodePut(id, [u])) - empty + 1;
    if (i > start && bytes + size > maxBytes) {
      out.push({ payload: encodePut(id, updates.slice(start, i)), count: i - start });
      start = i;
      bytes = empty;
    }
    bytes += size;
  });
  out.push({ payload: encodePut(id, updates.slice(start)), count: updates.length - start });
  return out;
}

/** The `gps/clock-offset-ms` figure among a gpsd source's readings, if there is one. */
function gpsOffsetOf(readings: readonly { key: string; value: unknown }[]): number | undefined {
  const r = readings.find((x) => x.key.endsWith('gps/clock-offset-ms'));
  return typeof r?.value === 'number' && Number.isFinite(r.value) ? r.value : undefined;
}
