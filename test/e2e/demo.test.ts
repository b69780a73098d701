import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { npmFreeEnv, runCli, withTimeout } from '../helpers/procs.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { until } from '../helpers/wait.js';

test('hamsync demo runs on its own, narrates the tie, the deferral and the history, and exits 0 in under 30 s', async () => {
  const started = Date.now();
  const { code, stdout: out, stderr: err } = await runCli(['demo', '--ahead', '3s'], 30_000);
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

test('hamsync demo --keep-running, started with npx from the checkout, prints npx hamsync commands that work from there', { skip: skipUnlessTools('npm'), timeout: 600_000 }, async (t) => {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const child = spawn('npx', ['hamsync', 'demo', '--keep-running', '--ahead', '1s'], { cwd: root, env: npmFreeEnv(), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', r));
  // npx, and the demo it starts, are one process group: stopped together (SIGKILL if a test step failed).
  const signal = (s: NodeJS.Signals): void => {
    try {
      process.kill(-(child.pid as number), s);
    } catch {
      /* already gone */
    }
  };
  t.after(async () => {
    signal('SIGKILL');
    await withTimeout(closed, 5000, 'npx to die').catch(() => undefined);
  });
  await until(() => out.includes('Still running'), { timeoutMs: 300_000, intervalMs: 200, what: `the demo under npx to reach "Still running"; stdout: ${out}; stderr: ${err}` });
  await until(() => /mosquitto_sub .*\n/.test(out), { timeoutMs: 10_000, what: 'the last printed command' });
  const commands = out.split('\n').filter((l) => l.startsWith('  npx hamsync ')).map((l) => l.trim());
  assert.equal(commands.length, 3, `three npx hamsync commands printed:\n${out}`);
  assert.doesNotMatch(out, /^ {2}hamsync /m, 'no bare hamsync command (not on PATH in a checkout)');
  assert.match(out, /^ {2}mosquitto_sub -h 127\.0\.0\.1 -p \d+ -v -t 'hamsync\/default\/state\/#'$/m);
  const [get, put, deferred] = commands as [string, string, string];
  const sh = (line: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const p = spawn('sh', ['-c', line], { cwd: root, env: npmFreeEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
      let so = '';
      let se = '';
      p.stdout.on('data', (d: Buffer) => (so += d.toString()));
      p.stderr.on('data', (d: Buffer) => (se += d.toString()));
      const killer = setTimeout(() => p.kill('SIGKILL'), 120_000);
      p.on('close', (code) => {
        clearTimeout(killer);
        resolve({ code, stdout: so, stderr: se });
      });
    });
  const g = await sh(get);
  assert.equal(g.code, 0, `${get}: ${g.stderr}`);
  assert.match(g.stdout, /Hello Mars/);
  const p = await sh(put);
  assert.equal(p.code, 0, `${put}: ${p.stderr}`);
  assert.match(p.stdout, /mission\/hello/);
  const d = await sh(deferred);
  assert.equal(d.code, 0, `${deferred}: ${d.stderr}`);
  signal('SIGTERM');
  await withTimeout(closed, 20_000, 'the demo to stop on SIGTERM');
});
