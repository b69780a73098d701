import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

test('hamsync demo runs on its own, narrates the tie, the deferral and the history, and exits 0 in under 30 s', async () => {
  const started = Date.now();
  const child = spawn(process.execPath, [cli, 'demo', '--ahead', '3s'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  clearTimeout(killer);
  const took = Date.now() - started;
  assert.equal(code, 0, `demo exited ${code}\n${out}\n${err}`);
  assert.ok(took < 30_000, `demo took ${took} ms`);
  // The tie: Mars wins everywhere, Earth is kept.
  assert.match(out, /earth writes "Hello Mars", mars writes "Hello Earth", both at state \d+/);
  assert.match(out, /hub, earth, mars and gps-1 all hold mission\/hello = "Hello Mars"/);
  assert.match(out, /mars\s+"Hello Earth"\s+state \d+\s+tie-lost/);
  assert.match(out, /earth\s+"Hello Mars"\s+state \d+\s+applied/);
  // The drift: deferred first, never seen early, applied once due.
  assert.match(out, /DEFERRED, not applied/);
  assert.match(out, /The observer sees no gps-1\/position yet/);
  assert.match(out, /APPLIED gps-1\/position = \{"fix":"3d"/);
  assert.match(out, /The observer received it only now, when it became due/);
  assert.doesNotMatch(out, /should not happen/);
  // The deferral really waited about as long as the clock was ahead (3 s).
  const deferredAt = Number(/\[\s*([\d.]+) s\]\s+The hub and earth received it/.exec(out)?.[1]);
  const appliedAt = Number(/\[\s*([\d.]+) s\]\s+The hub's clock reached it/.exec(out)?.[1]);
  assert.ok(appliedAt - deferredAt >= 2.5 && appliedAt - deferredAt <= 4.5, `applied ${appliedAt - deferredAt} s after being deferred (clock 3 s ahead)`);
});
