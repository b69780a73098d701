/**
 * linux-host: the health of the machine the daemon runs on (a Raspberry Pi, any Linux box).
 *
 * Every `interval` (default 10s) one batch, stamped by the daemon's clock:
 *
 * | key | value |
 * |---|---|
 * | `<prefix>/thermal/<zone type>` | °C per thermal zone, e.g. `thermal/cpu-thermal` on a Pi |
 * | `<prefix>/cpu/temp` | °C: the hottest `cpu*` / `x86_pkg_temp` zone, else the hottest zone |
 * | `<prefix>/load/1m`, `load/5m`, `load/15m` | load averages (`/proc/loadavg`) |
 * | `<prefix>/mem/total`, `mem/available` | bytes (`/proc/meminfo`) |
 * | `<prefix>/mem/used-ratio` | 1 - available / total, 0..1 |
 * | `<prefix>/disk/used-ratio` | used / (used + available to users), 0..1, as `df` shows it |
 * | `<prefix>/disk/free-bytes` | bytes available to unprivileged users |
 * | `<prefix>/uptime/s` | seconds since boot (`/proc/uptime`) |
 *
 * Options: `root` (default `/`): where `proc/` and `sys/` are looked up, for tests and for a
 * container that mounts the host's at e.g. `/host`; `disk` (default `/`): the path whose file
 * system is measured (not under `root`), or `false` for none.
 *
 * Anything missing or unreadable (no thermal zones in a VM, a file a kernel lacks) is left out
 * of the batch with a debug log; a tick never throws.
 */
import { readFile, statfs } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../src/log.js';
import type { Emit, Reading, Source } from '../source.js';
import { joinKey } from '../util/keys.js';
import { round } from '../util/prng.js';
import { Ticker } from '../util/ticker.js';
import { parseLoadavg, parseMeminfo, parseUptime } from './procfs.js';
import { readThermalZones, thermalReadings } from './thermal.js';

/** Validated options of a linux-host source. */
export interface LinuxHostOptions {
  name: string;
  prefix: string;
  intervalMs: number;
  /** Where `proc/` and `sys/` are. */
  root: string;
  /** File system to measure, or false. */
  disk: string | false;
}

/** Default `interval` of a linux-host source. */
export const LINUX_HOST_DEFAULT_INTERVAL_MS = 10_000;

/** The linux-host source (see the file header for keys and options). */
export class LinuxHostSource implements Source {
  readonly name: string;
  private ticker: Ticker | undefined;

  constructor(
    readonly options: LinuxHostOptions,
    private readonly log: Logger,
  ) {
    this.name = options.name;
  }

  start(emit: Emit): void {
    if (this.ticker) throw new Error(`source ${this.name} is already running`);
    const ticker = new Ticker(
      this.options.intervalMs,
      async () => {
        const readings = await this.collect();
        if (readings.length > 0 && this.ticker === ticker) emit(readings);
      },
      (err) => this.log.warn('linux-host tick failed', { error: String(err) }),
    );
    this.ticker = ticker;
    ticker.start();
  }

  async stop(): Promise<void> {
    const ticker = this.ticker;
    this.ticker = undefined;
    await ticker?.stop();
  }

  /** One batch of readings, now. Never throws for missing or odd files. */
  async collect(): Promise<Reading[]> {
    const { prefix, root } = this.options;
    const key = (suffix: string): string => joinKey(prefix, suffix);
    const out: Reading[] = [];

    out.push(...thermalReadings(await readThermalZones(root, this.log), prefix));

    const load = parseLoadavg((await this.read('proc/loadavg')) ?? '');
    if (load) out.push({ key: key('load/1m'), value: load.m1 }, { key: key('load/5m'), value: load.m5 }, { key: key('load/15m'), value: load.m15 });
    else this.log.debug('no load averages', { file: path.join(root, 'proc/loadavg') });

    const mem = parseMeminfo((await this.read('proc/meminfo')) ?? '');
    if (mem) {
      out.push(
        { key: key('mem/total'), value: mem.totalBytes },
        { key: key('mem/available'), value: mem.availableBytes },
        { key: key('mem/used-ratio'), value: round(1 - mem.availableBytes / mem.totalBytes, 4) },
      );
    } else this.log.debug('no memory figures', { file: path.join(root, 'proc/meminfo') });

    if (this.options.disk !== false) out.push(...(await this.disk(this.options.disk)));

    const uptime = parseUptime((await this.read('proc/uptime')) ?? '');
    if (uptime !== undefined) out.push({ key: key('uptime/s'), value: uptime });
    else this.log.debug('no uptime', { file: path.join(root, 'proc/uptime') });

    return out;
  }

  private async disk(target: string): Promise<Reading[]> {
    try {
      const s = await statfs(target);
      const used = (s.blocks - s.bfree) * s.bsize;
      const free = s.bavail * s.bsize;
      const readings: Reading[] = [{ key: joinKey(this.options.prefix, 'disk/free-bytes'), value: free }];
      if (used + free > 0) readings.unshift({ key: joinKey(this.options.prefix, 'disk/used-ratio'), value: round(used / (used + free), 4) });
      return readings;
    } catch (err) {
      this.log.debug('disk unreadable', { path: target, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      return [];
    }
  }

  /** A file under root, or undefined (debug log) if it cannot be read. */
  private async read(relative: string): Promise<string | undefined> {
    const file = path.join(this.options.root, relative);
    try {
      return await readFile(file, 'utf8');
    } catch (err) {
      this.log.debug('file unreadable', { file, error: (err as NodeJS.ErrnoException).code ?? String(err) });
      return undefined;
    }
  }
}
