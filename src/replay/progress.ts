/**
 * A one-line progress display on a terminal (count, rate, ETA), redrawn at most 10 times a
 * second on stderr. Silent when stderr is not a terminal, or when quiet.
 */
export class Progress {
  private count = 0;
  private last = 0;
  private readonly started = Date.now();
  private readonly enabled: boolean;
  private readonly stream: NodeJS.WriteStream;

  constructor(
    private readonly total: number | undefined,
    options: { quiet?: boolean; stream?: NodeJS.WriteStream } = {},
  ) {
    this.stream = options.stream ?? process.stderr;
    this.enabled = !options.quiet && this.stream.isTTY === true;
  }

  tick(n = 1): void {
    this.count += n;
    if (!this.enabled) return;
    const now = Date.now();
    if (now - this.last < 100) return;
    this.last = now;
    this.stream.write(`\r${this.render(now)}\u001b[K`);
  }

  render(now = Date.now()): string {
    const secs = Math.max((now - this.started) / 1000, 1e-3);
    const rate = this.count / secs;
    const total = this.total !== undefined && this.total >= this.count ? this.total : undefined;
    const eta = total !== undefined && rate > 0 ? ` ETA ${Math.ceil((total - this.count) / rate)}s` : '';
    const of = total !== undefined ? ` / ${total.toLocaleString('en')}` : '';
    return `${this.count.toLocaleString('en')}${of} rows  ${Math.round(rate).toLocaleString('en')}/s${eta}`;
  }

  done(): void {
    if (this.enabled) this.stream.write(`\r${this.render()}\u001b[K\n`);
  }

  get rows(): number {
    return this.count;
  }
}
