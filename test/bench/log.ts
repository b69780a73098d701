/**
 * Logger micro-bench: 100,000 info lines through the hand-written logger hamsync had before
 * pino (kept here as the baseline) and through today's src/log.ts, in the same run, alternating.
 *
 *   node dist/test/bench/log.js [lines] [reps]
 *
 * (a) formatting only: each logger hands its lines to a callback that drops them;
 * (b) to stderr, in a child process per run, stderr on /dev/null and on a pipe the parent drains:
 *     the time runs from the first line until the process exits (so pino's flush on exit counts).
 * Lines go in bursts of 1,000 with a turn of the event loop between. The old logger blocked on a
 * full pipe; pino's destination does not, and drops (and counts) lines past its bound instead:
 * the drops, if any, are printed.
 * A script, not a test.
 */
import { spawn } from 'node:child_process';
import { openSync, writeSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLogger, type Logger } from '../../src/log.js';
import { stderrSink } from '../../src/log-stderr.js';

type Impl = 'old' | 'new';
const BURST = 1000;

/** The logger of hamsync 0.1 (src/log.ts before pino), for comparison. */
function oldLogger(base: Record<string, unknown>, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const emit = (level: string, msg: string, fields?: Record<string, unknown>): void => {
    write(`${JSON.stringify({ level, time: new Date().toISOString(), msg, ...base, ...fields })}\n`);
  };
  return {
    debug: () => undefined,
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => oldLogger({ ...base, ...fields }, write),
  };
}

function make(impl: Impl, write?: (line: string) => void): Logger {
  const base = { app: 'hamsync', device: 'pi-7' };
  return impl === 'old' ? oldLogger(base, write) : createLogger('info', base, write);
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

async function logLines(log: Logger, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    log.info('telemetry put', { source: 'linux-host', key: 'pi-7/load', seq: i, ok: true });
    if (i % BURST === BURST - 1) await turn();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** Child mode: log `n` lines to stderr, report ms (first line to exit) on stdout at exit. */
async function child(impl: Impl, n: number): Promise<void> {
  const log = make(impl);
  log.info('warm-up'); // creates pino's destination, whose exit flush is registered before ours
  const t0 = performance.now();
  process.on('exit', () => writeSync(1, `${JSON.stringify({ ms: performance.now() - t0, dropped: impl === 'new' ? stderrSink().dropped : 0 })}\n`));
  await logLines(log, n);
  process.exit(0);
}

function runChild(impl: Impl, n: number, sink: 'devnull' | 'pipe'): Promise<{ ms: number; dropped: number }> {
  const self = fileURLToPath(import.meta.url);
  const stderr = sink === 'pipe' ? 'pipe' : openSync('/dev/null', 'w');
  const c = spawn(process.execPath, [self, 'child', impl, String(n)], { stdio: ['ignore', 'pipe', stderr] });
  let out = '';
  c.stdout?.setEncoding('utf8').on('data', (s: string) => (out += s));
  c.stderr?.resume();
  return new Promise((resolve, reject) => {
    c.once('close', (code) => (code === 0 ? resolve(JSON.parse(out) as { ms: number; dropped: number }) : reject(new Error(`bench child ${impl} exited ${String(code)}`))));
  });
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 100_000);
  const reps = Number(process.argv[3] ?? 5);
  const rate = (ms: number): string => `${Math.round((n / ms) * 1000).toLocaleString('en-US')} lines/s`;

  const fmt: Record<Impl, number[]> = { old: [], new: [] };
  for (let r = 0; r < reps; r++) {
    for (const impl of ['old', 'new'] as const) {
      const log = make(impl, () => undefined);
      const t0 = performance.now();
      await logLines(log, n);
      fmt[impl].push(performance.now() - t0);
    }
  }
  const rows: [string, number, number, number][] = [['(a) formatting only', median(fmt.old), median(fmt.new), 0]];
  for (const sink of ['devnull', 'pipe'] as const) {
    const ms: Record<Impl, number[]> = { old: [], new: [] };
    let dropped = 0;
    for (let r = 0; r < reps; r++) {
      for (const impl of ['old', 'new'] as const) {
        const res = await runChild(impl, n, sink);
        dropped += res.dropped;
        ms[impl].push(res.ms);
      }
    }
    rows.push([`(b) stderr on ${sink === 'pipe' ? 'a pipe' : '/dev/null'}`, median(ms.old), median(ms.new), dropped]);
  }
  console.log(`${n.toLocaleString('en-US')} info lines, median of ${reps} alternating runs`);
  for (const [what, oldMs, newMs, dropped] of rows) {
    const drops = dropped > 0 ? `   (pino dropped ${dropped.toLocaleString('en-US')} lines in ${reps} runs: stderr fell more than 8 MiB behind)` : '';
    console.log(`${what.padEnd(24)} old ${rate(oldMs).padStart(18)}   pino ${rate(newMs).padStart(18)}   pino/old ${(oldMs / newMs).toFixed(2)}x${drops}`);
  }
}

if (process.argv[2] === 'child') await child(process.argv[3] as Impl, Number(process.argv[4]));
else if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
