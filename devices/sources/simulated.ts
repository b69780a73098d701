/**
 * simulated: synthetic telemetry for demos, tests and benchmarks, no hardware needed.
 *
 * Every `interval` (default 1s) one batch, stamped by the daemon's clock:
 *
 * | key | value |
 * |---|---|
 * | `<prefix>/sim/temp` | °C: 21 + 4·sin(2π·t/period) + noise of at most ±0.25 (t = tick × interval) |
 * | `<prefix>/sim/counter` | 1, 2, 3, ... (the tick number) |
 * | `<prefix>/sim/battery` | percent: drains 0.05 per tick down to 5, then charges 0.5 per tick up to 100 |
 * | `<prefix>/sim/ch/<n>` | with `channels: N`, N random walks (n = 0..N-1): more keys per batch for benchmarks |
 *
 * Options: `seed` (integer 0..2^32-1; default derived from the device id, so each device
 * differs but every run of it is the same), `period` (duration of the temperature's sine, default
 * 10m), `channels` (0..1000, default 0). Values depend only on the seed and the tick number:
 * the same options give the same sequence on every machine.
 */
import type { Logger } from '../../src/log.js';
import type { Emit, Reading, Source } from '../source.js';
import { joinKey } from '../util/keys.js';
import { Prng, round } from '../util/prng.js';
import { Ticker } from '../util/ticker.js';

/** Validated options of a simulated source. */
export interface SimulatedOptions {
  name: string;
  prefix: string;
  intervalMs: number;
  seed: number;
  periodMs: number;
  channels: number;
}

/** Default `interval` of a simulated source. */
export const SIMULATED_DEFAULT_INTERVAL_MS = 1000;

/** The deterministic series behind the simulated source: `next()` gives the readings of the next tick. */
export class SimulatedSeries {
  private readonly prng: Prng;
  private tick = 0;
  private battery: number;
  private charging = false;
  private readonly walks: number[];

  constructor(private readonly options: Omit<SimulatedOptions, 'name'>) {
    this.prng = new Prng(options.seed);
    this.battery = 60 + round(this.prng.next() * 40, 2);
    this.walks = Array.from({ length: options.channels }, () => round(this.prng.next() * 100, 3));
  }

  /** The readings of the next tick. */
  next(): Reading[] {
    const { prefix, intervalMs, periodMs } = this.options;
    this.tick++;
    const t = this.tick * intervalMs;
    const temp = 21 + 4 * Math.sin((2 * Math.PI * t) / periodMs) + 0.25 * this.prng.signed();
    if (this.charging) {
      this.battery = Math.min(100, this.battery + 0.5);
      if (this.battery >= 100) this.charging = false;
    } else {
      this.battery = Math.max(5, this.battery - 0.05);
      if (this.battery <= 5) this.charging = true;
    }
    this.battery = round(this.battery, 2);
    const out: Reading[] = [
      { key: joinKey(prefix, 'sim/temp'), value: round(temp, 3) },
      { key: joinKey(prefix, 'sim/counter'), value: this.tick },
      { key: joinKey(prefix, 'sim/battery'), value: this.battery },
    ];
    for (let i = 0; i < this.walks.length; i++) {
      const v = round((this.walks[i] as number) + this.prng.signed(), 3);
      this.walks[i] = v;
      out.push({ key: joinKey(prefix, `sim/ch/${i}`), value: v });
    }
    return out;
  }
}

/** The simulated source (see the file header for keys and options). */
export class SimulatedSource implements Source {
  readonly name: string;
  private ticker: Ticker | undefined;

  constructor(
    readonly options: SimulatedOptions,
    private readonly log: Logger,
  ) {
    this.name = options.name;
  }

  /** Starts a fresh series (tick 1, same seed) and emits one batch now and then every interval. */
  start(emit: Emit): void {
    if (this.ticker) throw new Error(`source ${this.name} is already running`);
    const series = new SimulatedSeries(this.options);
    const ticker = new Ticker(
      this.options.intervalMs,
      () => {
        if (this.ticker === ticker) emit(series.next());
      },
      (err) => this.log.warn('simulated tick failed', { error: String(err) }),
    );
    this.ticker = ticker;
    ticker.start();
  }

  async stop(): Promise<void> {
    const ticker = this.ticker;
    this.ticker = undefined;
    await ticker?.stop();
  }
}
