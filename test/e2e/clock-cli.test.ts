/**
 * `hamsync clock show|reset` (issue 14 item 14): a data dir whose high-water mark is held ahead
 * (stamps made with a clock 2 h fast) keeps stamping ahead across restarts until the mark is
 * reset on the stopped daemon; afterwards stamps follow the clock, with the documented
 * consequence that the earlier future-stamped value still wins over a newer write to its key.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Daemon } from '../../src/daemon/daemon.js';
import { runCli } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';

const H2 = 2 * 3_600_000;
const NEAR = 60_000;

interface Report {
  highWater: number | null;
  aheadMs: number | null;
  liveAhead: number;
  reset?: boolean;
}

async function once(dataDir: string, clockOffset: string, puts: { key: string; value: number }[]): Promise<{ state: number; decision: string }[]> {
  const d = await Daemon.start({ id: 'pi-3', broker: 'mqtt://127.0.0.1:1', dataDir, http: '127.0.0.1:0', clockOffset, reconnectMax: '60s' });
  try {
    return await d.put(puts);
  } finally {
    await d.stop();
  }
}

async function clockCli(action: string, dataDir: string): Promise<Report> {
  const r = await runCli(['clock', action, '--data-dir', dataDir, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

test('clock show/reset: a high-water mark held 2 h ahead survives restarts until `hamsync clock reset` on the stopped daemon', { timeout: 60_000 }, async (t) => {
  const dataDir = join(tempDir(t), 'pi-3');
  const [ahead] = await once(dataDir, '+2h', [{ key: 'pi-3/mode', value: 1 }]);
  assert.ok(Math.abs((ahead?.state ?? 0) - Date.now() - H2) < NEAR);

  // The clock is right again, but the persisted mark holds new stamps 2 h ahead, restart after restart.
  const [poisoned] = await once(dataDir, '0', [{ key: 'pi-3/other', value: 1 }]);
  assert.ok((poisoned?.state ?? 0) - Date.now() > H2 - NEAR, 'still stamped ahead after a restart');

  const shown = await clockCli('show', dataDir);
  assert.ok((shown.aheadMs ?? 0) > H2 - NEAR, JSON.stringify(shown));
  assert.equal(shown.liveAhead, 2);
  const text = await runCli(['clock', 'show', '--data-dir', dataDir]);
  assert.match(text.stdout, /ms AHEAD of the clock/);

  // Not beside a running daemon: the data dir's lock refuses, naming the daemon's pid.
  const running = await Daemon.start({ id: 'pi-3', broker: 'mqtt://127.0.0.1:1', dataDir, http: '127.0.0.1:0', reconnectMax: '60s' });
  try {
    const refused = await runCli(['clock', 'reset', '--data-dir', dataDir]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, new RegExp(`HAMSYNC_ERR_LOCKED.*${process.pid}`));
  } finally {
    await running.stop();
  }
  assert.ok(((await clockCli('show', dataDir)).aheadMs ?? 0) > H2 - NEAR, 'the refused reset changed nothing');

  const reset = await clockCli('reset', dataDir);
  assert.equal(reset.reset, true);
  assert.equal((await clockCli('show', dataDir)).highWater, null);

  const [fresh, sameKey] = await once(dataDir, '0', [{ key: 'pi-3/new', value: 1 }, { key: 'pi-3/mode', value: 2 }]);
  assert.ok(Math.abs((fresh?.state ?? 0) - Date.now()) < NEAR, `stamped ${String((fresh?.state ?? 0) - Date.now())} ms from the clock after the reset`);
  // The documented consequence: the value stamped ahead still wins until real time passes it.
  assert.equal(sameKey?.decision, 'historical');
  assert.equal((await clockCli('reset', dataDir)).reset, false, 'nothing left to reset');
  const missing = await runCli(['clock', 'reset', '--data-dir', join(dataDir, 'nope')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /HAMSYNC_ERR_STORE/);
});
