/**
 * Splits a text stream into lines with a bound on line length: a line longer than `maxChars`
 * is dropped whole (reported once through `onOverflow`) and splitting resumes after its end, so
 * a peer that never sends a newline cannot make us buffer without limit.
 */
export class LineSplitter {
  private buffer = '';
  private skipping = false;

  constructor(
    private readonly maxChars: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {}

  /** Feeds decoded text (use a StringDecoder / `setEncoding` upstream for multi-byte safety). */
  push(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      const piece = chunk.slice(start, nl);
      start = nl + 1;
      if (this.skipping) {
        this.skipping = false;
        this.buffer = '';
        continue;
      }
      if (this.buffer.length + piece.length > this.maxChars) {
        this.buffer = '';
        this.onOverflow();
        continue;
      }
      const line = this.buffer + piece;
      this.buffer = '';
      this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    if (this.skipping) return;
    const rest = chunk.slice(start);
    if (this.buffer.length + rest.length > this.maxChars) {
      this.buffer = '';
      this.skipping = true;
      this.onOverflow();
      return;
    }
    this.buffer += rest;
  }

  /** Forgets a partial line (e.g. after a reconnect). */
  reset(): void {
    this.buffer = '';
    this.skipping = false;
  }
}
