/**
 * Issue 14 item 14 under libfaketime: the daemon's system clock steps +2 h for ~10 s while it
 * takes puts, then steps back. The clock guard (reference: the hub's `t`) refuses to stamp
 * while the clock is ahead (HAMSYNC_ERR_CLOCK, HTTP 503) instead of raising the high-water mark,
 * so afterwards — and after a restart — new updates are stamped at real time again, and every
 * put the daemon acknowledged reaches the hub.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { api, Harness, hubSnapshot, statusOf, type DaemonProc, type PutResultView } from '../helpers/procs.js';
import { libfaketime, skipUnlessTools } from '../helpers/tools.js';
import { sleep, until } from '../helpers/wait.js';

const STEP = '+2h';
const MAX_AHEAD = '1m';
/** A stamp this close to the test's (real) clock counts as "real time". */
const REAL_MS = 30_000;

interface Acked {
  k: string;
  s: number;
  /** The test's clock when the answer came. */
  at: number;
  phase: string;
}

test('a +2 h clock step for 10 s: puts are refused while it lasts, stamped at real time after it and after a restart; nothing acknowledged is lost', { skip: skipUnlessTools('faketime'), timeout: 180_000 }, async (t) => {
  const h = new Harness(t);
  const broker = await h.broker();
  const timeFile = path.join(h.tempDir('faketime'), 'offset');
  fs.writeFileSync(timeFile, '+0\n');
  const env = { LD_PRELOAD: libfaketime(), FAKETIME_TIMESTAMP_FILE: timeFile, FAKETIME_NO_CACHE: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
  let d: DaemonProc = await h.daemon({ id: 'jumpy', broker: broker.url, args: ['--max-clock-ahead', MAX_AHEAD], env });
  await until(async () => (await statusOf(d.http)).connected, { what: 'connected', timeoutMs: 20_000 });
  // The catch-up answer's `t` gave the guard its reference.
  await until(async () => ((await statusOf(d.http)) as unknown as { clockGuard: { state: string } }).clockGuard.state === 'ok', { what: 'a reference time from the hub' });

  const acked: Acked[] = [];
  const refused: { code: string; message: string; phase: string; status: number }[] = [];
  let phase = 'before';
  let n = 0;
  const putOne = async (): Promise<void> => {
    const k = `jumpy/n${n++}`;
    const res = await api(d.http, 'POST', '/v1/put', { k, v: n });
    if (res.status === 200) {
      const r = (res.body as { results: PutResultView[] }).results[0] as PutResultView;
      acked.push({ k, s: r.s, at: Date.now(), phase });
    } else {
      const e = (res.body as { error: { code: string; message: string } }).error;
      refused.push({ ...e, phase, status: res.status });
    }
  };
  // Puts all along, one at a time (bounded: by count and by the phases below).
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 2000; i++) {
      await putOne();
      await sleep(100);
    }
  })();

  await until(() => acked.length >= 5, { what: '5 puts before the step' });
  phase = 'ahead';
  fs.writeFileSync(timeFile, `${STEP}\n`);
  const stepAt = Date.now();
  await until(() => refused.some((r) => r.phase === 'ahead') && Date.now() - stepAt >= 10_000, { what: 'refusals over ~10 s of the step', timeoutMs: 60_000 });
  const during = (await statusOf(d.http)) as unknown as { clockGuard: { state: string; cause: string; aheadMs: number }; counters: Record<string, number>; clock: { now: number } };
  phase = 'back';
  fs.writeFileSync(timeFile, '+0\n');
  const backAt = Date.now();
  await until(() => acked.some((a) => a.phase === 'back' && a.at > backAt), { what: 'a put acknowledged after the step back', timeoutMs: 30_000 });
  await until(() => acked.filter((a) => a.phase === 'back').length >= 5, { what: '5 puts after the step back' });
  running = false;
  await loop;

  t.diagnostic(`acked ${acked.length} (before ${acked.filter((a) => a.phase === 'before').length}, during ${acked.filter((a) => a.phase === 'ahead').length}, after ${acked.filter((a) => a.phase === 'back').length}), refused ${refused.length}`);
  assert.equal(during.clockGuard.state, 'ahead', JSON.stringify(during.clockGuard));
  assert.equal(during.clockGuard.cause, 'clock');
  assert.ok(during.clockGuard.aheadMs > 7_000_000, JSON.stringify(during.clockGuard));
  // The machine state followed the reference, not the jumped clock.
  assert.ok(Math.abs(during.clock.now - Date.now()) < REAL_MS, `status clock.now ${during.clock.now} during the step`);
  assert.ok((during.counters['clock.ahead'] ?? 0) >= 1 && (during.counters['clock.refused'] ?? 0) >= 1, JSON.stringify(during.counters));
  for (const r of refused) assert.ok(r.code === 'HAMSYNC_ERR_CLOCK' && r.status === 503, JSON.stringify(r));
  // Nothing was stamped ahead: not during the step (a put racing the step may be stamped just before it), not after it.
  for (const a of acked) assert.ok(a.s - a.at < REAL_MS, `${a.k} (${a.phase}) stamped ${a.s - a.at} ms ahead of real time`);
  assert.match(d.proc.stderr, /clock far ahead of the reference time/);
  assert.match(d.proc.stderr, /clock sane again/);

  // After a restart too: the persisted high-water mark was never raised to the jumped clock.
  await d.proc.stop();
  d = await h.daemon({ ...d.options, args: ['--max-clock-ahead', MAX_AHEAD], env });
  const res = await api(d.http, 'POST', '/v1/put', { k: 'jumpy/after-restart', v: 1 });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const s = ((res.body as { results: PutResultView[] }).results[0] as PutResultView).s;
  assert.ok(Math.abs(s - Date.now()) < REAL_MS, `stamped ${s - Date.now()} ms from real time after a restart`);
  acked.push({ k: 'jumpy/after-restart', s, at: Date.now(), phase: 'restart' });

  // Every acknowledged put reached the hub, with the state the daemon answered.
  await until(
    async () => {
      const hub = new Map((await hubSnapshot(broker.url)).map((r) => [r.k, r.s]));
      const missing = acked.filter((a) => hub.get(a.k) !== a.s);
      assert.deepEqual(missing, []);
      return true;
    },
    { what: 'every acknowledged put on the hub', timeoutMs: 30_000, intervalMs: 500 },
  );
  await h.stopAll();
});
