/**
 * Replay benchmark: `hamsync replay` of N stored updates to NDJSON on /dev/null, against a raw
 * lmdb-js range scan of the same rows in the same run; and `--as-of` over the same N rows.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { HistoryRow } from '../../src/store/rows.js';
import { asOf } from '../../src/replay/as-of.js';
import { runReplay } from '../../src/replay/run.js';

export interface ReplayRow {
  what: string;
  rate: string;
  vs: string;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Writes `n` history rows (500 keys, 50 sources, mixed values) straight into a store's history. */
async function fill(dir: string, n: number): Promise<void> {
  const store = openStore(dir);
  const t0 = 1_795_000_000_000;
  for (let i = 0; i < n; i += 10_000) {
    for (let j = i; j < Math.min(n, i + 10_000); j++) {
      const k = `dev-${j % 50}/metric-${Math.floor(j / 50) % 10}`;
      const j3 = j % 3;
      const text = j3 === 0 ? String((j % 1000) / 10) : j3 === 1 ? `"state-${j % 7}"` : `{"lat":48.${j % 97},"lon":7.${j % 89},"fix":"3d"}`;
      const row: HistoryRow = { k, src: `dev-${j % 50}`, j: text, o: j % 11 === 0 ? 'historical' : 'applied', d: j % 17 === 0, rx: t0 + j * 10 + 3 };
      void store.history.put([t0 + j * 10, j], row);
      void store.historyByKey.put([k, t0 + j * 10, j], true);
    }
    await store.root.committed;
  }
  await store.root.flushed;
  await store.root.close();
}

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e9;
}

export async function benchReplay(n: number): Promise<ReplayRow[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hamsync-bench-replay-'));
  try {
    await fill(dir, n);
    const rows: ReplayRow[] = [];
    const raw: number[] = [];
    const replay: number[] = [];
    const asof: number[] = [];
    for (let rep = 0; rep < 3; rep++) {
      const store = openStore(dir, { readOnly: true });
      let count = 0;
      raw.push(n / time(() => {
        for (const { value } of store.history.getRange({})) if (value.k !== '') count++;
      }));
      if (count !== n) throw new Error(`raw scan saw ${count} rows, expected ${n}`);
      asof.push(n / time(() => {
        if (asOf(store, Infinity).length !== 500) throw new Error('as-of: expected 500 keys');
      }));
      await store.root.close();
      const t = process.hrtime.bigint();
      const summary = await runReplay({ dataDir: dir, out: '/dev/null', quiet: true });
      replay.push(summary.rows / (Number(process.hrtime.bigint() - t) / 1e9));
      if (summary.rows !== n) throw new Error(`replay wrote ${summary.rows} rows, expected ${n}`);
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[1] as number;
    rows.push({ what: `raw lmdb-js range scan, ${fmt(n)} rows (decode only)`, rate: fmt(med(raw)), vs: '' });
    rows.push({ what: `hamsync replay -> NDJSON on /dev/null`, rate: fmt(med(replay)), vs: `raw/replay = ${(med(raw) / med(replay)).toFixed(2)} (aim <= 3; >= 200,000/s)` });
    rows.push({ what: `replay --as-of (HAM over all ${fmt(n)} rows)`, rate: fmt(med(asof)), vs: `raw/as-of = ${(med(raw) / med(asof)).toFixed(2)}` });
    return rows;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith('/bench/replay.js') && process.env.NODE_TEST_CONTEXT === undefined) {
  const n = Math.round(1_000_000 * Number(process.env.BENCH_SCALE ?? 1));
  benchReplay(n).then((rows) => {
    for (const r of rows) console.log(`${r.what.padEnd(56)} ${r.rate.padStart(12)} /s  ${r.vs}`);
  }, (err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
