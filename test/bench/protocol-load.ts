/**
 * The protocol bench's traffic: device `pi-1` publishes puts of its own telemetry (`pi-1/m<i>`,
 * PI_KEYS keys round-robin) and, in SAT_PER_PHASE of each phase's puts (the last one included),
 * one update for the satellite (`sat/k<j>`, a new key each time) in place of one of its own.
 * States count up from an hour ago, one per update, so nothing is deferred and every update
 * wins over the last one of its key.
 */
export const PI_KEYS = 1000;
export const SAT_PER_PHASE = 10;

export class Workload {
  private state: number;
  /** The sat keys written so far, each with the state it was written at. */
  readonly sat = new Map<string, number>();
  private n = 0;

  constructor(base = Date.now() - 3_600_000) {
    this.state = base;
  }

  /** The last sat key written (the last put of a phase carries it). */
  get lastSat(): { k: string; s: number } {
    const last = [...this.sat].at(-1);
    if (!last) throw new Error('no sat update was written yet');
    return { k: last[0], s: last[1] };
  }

  /**
   * The payload maker of one phase of `messages` puts of `perPut` updates each, for
   * publishPuts (which asks for i = 0, 1, … in order).
   */
  phase(messages: number, perPut: number): (i: number) => string {
    const step = Math.max(1, Math.floor(messages / SAT_PER_PHASE));
    return (i) => {
      const back = messages - 1 - i;
      const withSat = back % step === 0 && back / step < SAT_PER_PHASE;
      const u: string[] = [];
      for (let j = withSat ? 1 : 0; j < perPut; j++) {
        const n = this.n++;
        u.push(`{"k":"pi-1/m${n % PI_KEYS}","v":{"t":${(n % 1000) / 10}},"s":${++this.state}}`);
      }
      if (withSat) {
        const k = `sat/k${this.sat.size}`;
        const s = ++this.state;
        this.sat.set(k, s);
        u.push(`{"k":"${k}","v":{"bat":3.9,"i":${i}},"s":${s}}`);
      }
      return `{"src":"pi-1","u":[${u.join(',')}]}`;
    };
  }
}
