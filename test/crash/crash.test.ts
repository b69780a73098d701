/**
 * Crash test: a real child process receives batches and acknowledges each once `durable`
 * resolves; the parent SIGKILLs it at random points, restarts it on the same data directory
 * (several rounds), then opens the store itself and checks that nothing acknowledged was lost
 * and that live, history and deferred agree.
 *
 * Seeded: set CRASH_SEED to replay a run (the seed is printed on failure).
 * Note: SIGKILL loses the process, not the OS page cache, so this checks commit atomicity and
 * the ack-after-commit protocol; it cannot detect a missing fsync (that needs power loss).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { canonical, ManualClock, Replica } from '../../src/index.js';
import { randomSeed, seedFromEnv } from '../helpers/seed.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { batchFor, END_OF_TIME, int, KEYS, prng, T0 } from './workload.js';

const ROUNDS = 6;
const CHILD = fileURLToPath(new URL('./child.js', import.meta.url));
const READY_TIMEOUT_MS = 15_000;

interface Row {
  key: string;
  state: number;
  source: string;
  text: string;
}

interface HistoryRowView extends Row {
  outcome: string;
  /** It waited in the deferred queue. */
  deferred: boolean;
}

function fp(r: Row): string {
  return `${r.key}\u0000${r.state}\u0000${r.source}\u0000${r.text}`;
}

interface RoundResult {
  /** Batch ids in the order their `durable` resolved. */
  acked: number[];
  /** Acks that came after the ack of a later batch (resolution order is not batch order). */
  reordered: number;
  killedBeforeReady: boolean;
}

/** Runs one child until it is SIGKILLed `delayMs` after it is ready (or after spawn). */
async function runRound(dir: string, seed: number, round: number, delayMs: number, fromSpawn: boolean): Promise<RoundResult> {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const child = spawn(process.execPath, [CHILD, dir, String(seed), String(round)], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  let ready = false;
  const acked: number[] = [];
  let onReady: () => void = () => undefined;
  const readyP = new Promise<void>((resolve) => (onReady = resolve));
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    out += chunk;
    let nl: number;
    // Only complete lines count: a line cut by the kill is not an acknowledgement.
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      if (line === 'ready') {
        ready = true;
        onReady();
      } else if (line.startsWith('ack ')) {
        acked.push(Number(line.slice(4)));
      }
    }
  });
  child.stderr.on('data', (chunk: string) => (err += chunk));
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));

  const timers: NodeJS.Timeout[] = [];
  const timer = (ms: number): Promise<'timeout'> => new Promise((resolve) => timers.push(setTimeout(() => resolve('timeout'), ms)));
  try {
    if (!fromSpawn) {
      const first = await Promise.race([readyP.then(() => 'ready' as const), closed.then(() => 'closed' as const), timer(READY_TIMEOUT_MS)]);
      if (first !== 'ready') {
        child.kill('SIGKILL');
        await closed;
        assert.fail(`round ${round}: child did not become ready (${first}); stderr:\n${err}`);
      }
    }
    const early = await Promise.race([closed.then(() => 'closed' as const), timer(delayMs)]);
    if (early === 'closed') assert.fail(`round ${round}: child exited on its own; stderr:\n${err}`);
  } finally {
    for (const t of timers) clearTimeout(t);
  }
  child.kill('SIGKILL');
  const { signal } = await closed;
  assert.equal(signal, 'SIGKILL', `round ${round}: child ended by ${signal}; stderr:\n${err}`);
  assert.equal(err, '', `round ${round}: child wrote to stderr:\n${err}`);
  let reordered = 0;
  for (let i = 1; i < acked.length; i++) if ((acked[i] as number) < (acked[i - 1] as number)) reordered++;
  return { acked, reordered, killedBeforeReady: !ready };
}

interface Snapshot {
  live: Map<string, Row>;
  /** History rows reachable through replica.history(key), over all keys. */
  historyCount: number;
  history: Map<string, HistoryRowView[]>;
  historyFps: Set<string>;
  deferredFps: Set<string>;
  deferredCount: number;
}

async function snapshot(dir: string, now: number): Promise<Snapshot> {
  const replica = await Replica.open({ dataDir: dir, clock: new ManualClock(now), mapSize: 1024 ** 3 });
  try {
    const live = new Map<string, Row>();
    for (const e of replica.live()) live.set(e.key, { key: e.key, state: e.state, source: e.source, text: canonical(e.value) });
    const history = new Map<string, HistoryRowView[]>();
    const historyFps = new Set<string>();
    let historyCount = 0;
    // History may hold keys that are not live (which is itself checked below): read every workload key.
    const keys = new Set([...live.keys(), ...KEYS]);
    for (const key of keys) {
      const rows = replica.history(key).map((h) => ({ key, state: h.state, source: h.source, text: canonical(h.value), outcome: h.outcome, deferred: h.deferred }));
      if (rows.length > 0) history.set(key, rows);
      historyCount += rows.length;
      for (const r of rows) historyFps.add(fp(r));
    }
    const deferred = replica.deferred();
    const deferredFps = new Set(deferred.map((d) => fp({ key: d.key, state: d.state, source: d.source, text: canonical(d.value) })));
    return { live, historyCount, history, historyFps, deferredFps, deferredCount: deferred.length };
  } finally {
    await replica.close();
  }
}

/** Deferred rows whose exact update is already in history: promoting them writes nothing. */
function duplicatesPromoted(s: Snapshot): number {
  let n = 0;
  for (const d of s.deferredFps) if (s.historyFps.has(d)) n++;
  return n;
}

/** Live must be exactly what HAM makes of the history: the greatest (state, text), credited to the greatest source. */
function checkLiveAgainstHistory(s: Snapshot, label: string): void {
  for (const [key, rows] of s.history) {
    const live = s.live.get(key);
    assert.ok(live, `${label}: ${key} has ${rows.length} history rows but no live row`);
    const winner = rows.reduce((a, b) => (b.state > a.state || (b.state === a.state && b.text > a.text) ? b : a));
    assert.equal(live.state, winner.state, `${label}: ${key} live state ${live.state}, history winner ${winner.state}`);
    assert.equal(live.text, winner.text, `${label}: ${key} live value ${live.text}, history winner ${winner.text}`);
    const credited = rows.filter((r) => r.state === live.state && r.text === live.text && (r.outcome === 'applied' || r.outcome === 'same'));
    assert.ok(credited.some((r) => r.source === live.source), `${label}: ${key} live row ${fp(live)} has no applied/same history row`);
    const topSource = credited.map((r) => r.source).reduce((a, b) => (b > a ? b : a));
    assert.equal(live.source, topSource, `${label}: ${key} live credits ${live.source}, the greatest equal source is ${topSource}`);
  }
  for (const key of s.live.keys()) assert.ok(s.history.has(key), `${label}: live key ${key} has no history`);
}

/**
 * Raw look at the sequence counter: every history/deferred row has a distinct seq below meta 'seq'
 * (a restart must not reuse one). The seq is the last element of those rows' keys.
 */
function checkSequence(dir: string): { history: number; deferred: number } {
  const root = open({ path: dir, noSubdir: false, maxDbs: 16, mapSize: 1024 ** 3, readOnly: true });
  try {
    const meta = root.openDB<unknown, string>({ name: 'meta' });
    const next = meta.get('seq') as number;
    const seen = new Set<number>();
    const counts = { history: 0, deferred: 0 };
    for (const name of ['history', 'deferred'] as const) {
      for (const k of root.openDB<unknown, (string | number)[]>({ name }).getKeys()) {
        seen.add(k[k.length - 1] as number);
        counts[name]++;
      }
    }
    assert.equal(seen.size, counts.history + counts.deferred, 'history/deferred rows share sequence numbers');
    for (const s of seen) assert.ok(s < next, `row seq ${s} >= meta seq ${next}: a restart would reuse it`);
    return counts;
  } finally {
    void root.close();
  }
}

test('acknowledged updates survive SIGKILL; live, history and deferred agree', { timeout: 60_000 }, async () => {
  const seed = seedFromEnv(randomSeed(), 'CRASH_SEED');
  const dir = tempDir();
  try {
    const rand = prng(seed);
    const acked: Row[] = [];
    const log: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const fromSpawn = round > 0 && rand() < 0.25; // sometimes kill during startup (open, promotion)
      const delay = int(rand, 50, 400);
      const r = await runRound(dir, seed, round, delay, fromSpawn);
      // `durable` means "this batch and everything before it": an ack of batch n covers batches 0..n.
      const last = Math.max(-1, ...r.acked);
      log.push(`round ${round}: killed ${delay} ms after ${fromSpawn ? 'spawn' : 'ready'}${r.killedBeforeReady ? ' (before ready)' : ''}, ${r.acked.length} acks (batches 0..${last} covered), ${r.reordered} out of order`);
      for (let id = 0; id <= last; id++) {
        for (const u of batchFor(seed, round, id)) acked.push({ key: u.key, state: u.state, source: u.source, text: canonical(u.value) });
      }
    }
    const ackedBatches = log.join('\n');
    assert.ok(acked.length > 0, `no batch was acknowledged in any round:\n${ackedBatches}`);

    // 1. As the crash left it (a clock before every state: opening promotes nothing).
    const rawBefore = checkSequence(dir);
    const before = await snapshot(dir, T0 - 1);
    assert.equal(before.historyCount, rawBefore.history, 'history rows stored vs reachable through replica.history(key)');
    assert.equal(before.deferredCount, rawBefore.deferred, 'deferred rows stored vs listed by replica.deferred()');
    assert.equal(before.deferredFps.size, before.deferredCount, 'the same exact update waits twice in the deferred queue');
    for (const u of acked) {
      assert.ok(before.historyFps.has(fp(u)) || before.deferredFps.has(fp(u)), `acknowledged update lost: ${fp(u)}`);
    }
    checkLiveAgainstHistory(before, 'after crash');
    const promoted = [...before.history.values()].flat().filter((h) => h.deferred).length;
    assert.ok(promoted > 0, 'no deferred update was promoted during the rounds: the workload does not exercise the queue');

    // 2. Opened with a clock past everything: every deferred update is resolved at open.
    const after = await snapshot(dir, END_OF_TIME);
    assert.equal(after.deferredCount, 0, 'deferred updates remain after opening with a clock past every state');
    for (const u of acked) assert.ok(after.historyFps.has(fp(u)), `acknowledged update not in history after promotion: ${fp(u)}`);
    for (const d of before.deferredFps) assert.ok(after.historyFps.has(d), `deferred update vanished on promotion: ${d}`);
    for (const h of before.historyFps) assert.ok(after.historyFps.has(h), `history row vanished: ${h}`);
    checkLiveAgainstHistory(after, 'after promotion');
    const rawAfter = checkSequence(dir);
    assert.equal(after.historyCount, rawAfter.history, 'history rows stored vs reachable through replica.history(key), after promotion');
    assert.equal(rawAfter.history, rawBefore.history + rawBefore.deferred - duplicatesPromoted(before), 'promotion: every deferred row became one history row (or was a duplicate)');

    console.log(`# crash seed ${seed}: ${acked.length} acknowledged updates; ${rawBefore.history} history and ${rawBefore.deferred} deferred rows, with ${promoted} promoted history rows before the final open\n# ${log.join('\n# ')}`);
  } catch (err) {
    (err as Error).message = `[crash seed ${seed}; replay with CRASH_SEED=${seed}] ${(err as Error).message}`;
    throw err;
  } finally {
    removeDir(dir);
  }
});
