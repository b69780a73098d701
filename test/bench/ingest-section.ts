/**
 * The `ingest` section of `npm run bench`: a hub replica against the raw same-rows loop
 * (ingest-rows.ts), pipelined at three batch sizes and strict, the two alternating run by run
 * (raw first in even runs, replica first in odd ones), `benchRuns()` runs of each; every row shows
 * the median and the spread (min–max).
 */
import { historyReads } from './history-read.js';
import { assertSameRows, planRows, putsPerUpdate } from './ingest-rows.js';
import { COMMITS_IN_FLIGHT, makeRecords, rawRun, replicaRun, RX, UPDATES_PER_COMMIT_WAIT, type Rec, type Run } from './ingest.js';
import { benchRuns, median, minMax, type SectionRow } from './stats.js';

const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const x2 = (n: number): string => n.toFixed(2);

/** Raw and replica on the same records, alternating; checks the rows are the same after each pair. */
async function pairs(label: string, records: Rec[], batch: number, strict: boolean, runs: number) {
  const plan = planRows(records, batch, RX);
  const raw: number[] = [];
  const replica: number[] = [];
  const ratio: number[] = [];
  for (let run = 0; run < runs; run++) {
    const one = async (which: 'raw' | 'replica'): Promise<Run> => {
      gc();
      return which === 'raw' ? rawRun(plan, strict) : replicaRun(records, batch, strict);
    };
    const order: ('raw' | 'replica')[] = run % 2 === 0 ? ['raw', 'replica'] : ['replica', 'raw'];
    const got: Partial<Record<'raw' | 'replica', Run>> = {};
    for (const which of order) got[which] = await one(which);
    const r = got.raw as Run;
    const p = got.replica as Run;
    assertSameRows(label, plan, p.rows, r.rows);
    raw.push(r.perSecond);
    replica.push(p.perSecond);
    ratio.push(r.perSecond / p.perSecond);
  }
  return { plan, raw, replica, ratio };
}

export async function benchIngest(scale: number, rows: SectionRow[], notes: string[]): Promise<void> {
  const runs = benchRuns();
  const cases = [
    { batch: 1, updates: Math.round(20_000 * scale) },
    { batch: 100, updates: Math.round(100_000 * scale) },
    { batch: 1000, updates: Math.round(100_000 * scale) },
  ];
  const strictUpdates = Math.round(1_000 * scale);
  const records = makeRecords(Math.max(...cases.map((c) => c.updates)));
  const section = `ingest, pipelined (updates/s; median (min–max) of ${runs} alternating runs)`;
  let perUpdate = '';
  for (const c of cases) {
    const label = `ingest, batches of ${c.batch}`;
    const p = await pairs(label, records.slice(0, c.updates), c.batch, false, runs);
    perUpdate = putsPerUpdate(p.plan);
    rows.push({ section, what: `raw lmdb-js, same rows, ${fmt(c.updates)} updates in batches of ${c.batch}`, rate: fmt(median(p.raw)), vs: `(${minMax(p.raw, fmt)})` });
    rows.push({
      section,
      what: `replica ingest, batches of ${c.batch}`,
      rate: fmt(median(p.replica)),
      vs: `(${minMax(p.replica, fmt)}); replica vs same-rows loop: ${x2(median(p.ratio))}x slower (${minMax(p.ratio, x2)}); aim <= 2x: ${median(p.ratio) <= 2 ? 'met' : 'MISSED'}`,
    });
  }
  const s = await pairs('ingest, strict', records.slice(0, strictUpdates), 1, true, runs);
  const strict = `ingest, strict: each update durable before the next (updates/s; median (min–max) of ${runs} alternating runs)`;
  rows.push({ section: strict, what: `raw lmdb-js, same rows, put + await flushed, ${fmt(strictUpdates)} updates`, rate: fmt(median(s.raw)), vs: `(${minMax(s.raw, fmt)})` });
  rows.push({ section: strict, what: 'replica, batches of 1, await durable', rate: fmt(median(s.replica)), vs: `(${minMax(s.replica, fmt)}); raw/replica ${x2(median(s.ratio))} (${minMax(s.ratio, x2)})` });
  const reads = await historyReads(records.slice(0, Math.max(...cases.map((c) => c.updates))), Math.max(3, runs));
  const readSection = `history <key> reads (µs per read; median (min–max) of ${Math.max(3, runs)} passes over every key)`;
  const us = (n: number): string => n.toFixed(1);
  rows.push({ section: readSection, what: `format-2 read: index range + row gets, ${reads.rowsPerRead.toFixed(0)} rows/key, ${fmt(reads.keys)} keys`, rate: `${us(median(reads.indexOnly))} µs`, vs: `(${minMax(reads.indexOnly, us)}); baseline` });
  rows.push({ section: readSection, what: 'readHistory, every row indexed', rate: `${us(median(reads.indexed))} µs`, vs: `(${minMax(reads.indexed, us)}); ${x2(median(reads.indexed) / median(reads.indexOnly))}x the baseline` });
  rows.push({ section: readSection, what: 'replica.history, a full build (16,383 rows) waiting', rate: `${us(median(reads.waiting))} µs`, vs: `(${minMax(reads.waiting, us)}); ${x2(median(reads.waiting) / median(reads.indexOnly))}x the baseline (the daemon's and hub's reads: waiting rows in memory)` });
  rows.push({ section: readSection, what: 'read-only open, a full build waiting', rate: `${us(median(reads.waitingScan))} µs`, vs: `(${minMax(reads.waitingScan, us)}); ${x2(median(reads.waitingScan) / median(reads.indexOnly))}x the baseline: another process scans history-unindexed (the worst case)` });
  notes.push(
    `ingest workload: 5000 keys (50 devices x 100 metrics), values {u, v}, states increasing with 10% late by up to 10 s; ManualClock past every state (nothing deferred). ` +
      `The replica is a hub's (changeLog on). Puts per update, both sides: ${perUpdate}; plus meta seq and changes.head per batch (row counts per database compared after every run: equal).`,
    `pipelined: receive() every batch without waiting; the \`committed\` of every ${fmt(UPDATES_PER_COMMIT_WAIT)}th update's batch joins a pipeline of ${COMMITS_IN_FLIGHT} ` +
      `(the oldest is awaited when one more arrives), then the last batch's \`durable\` is awaited. Raw: the same rows, planned before the clock starts (same HAM), ` +
      `put() batch by batch into databases of the same names, same pipeline on put()'s promises, then \`flushed\`. Fresh temp dir per run.`,
  );
}
