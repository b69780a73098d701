import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { ManualClock, Replica } from '../../src/index.js';
import { Proc, withTimeout } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { poll } from '../helpers/wait.js';

/** `hamsync ...args` to its exit (at most 20 s); with `killAfterMs`, interrupted (SIGINT) then. */
async function run(args: string[], opts: { killAfterMs?: number } = {}): Promise<{ code: number | null; out: string; err: string }> {
  const p = new Proc(`hamsync ${args[0] ?? ''}`, args);
  const interrupt = opts.killAfterMs === undefined ? undefined : setTimeout(() => p.child.kill('SIGINT'), opts.killAfterMs);
  try {
    const { code } = await withTimeout(p.exited, 20_000, `hamsync ${args.join(' ')}`);
    return { code, out: p.stdout, err: p.stderr };
  } finally {
    clearTimeout(interrupt);
    await p.kill();
  }
}

const T0 = Date.parse('2026-11-25T14:00:00Z');

async function fleet(dir: string): Promise<void> {
  const r = await Replica.open({ dataDir: dir, clock: new ManualClock(T0 + 3_600_000) });
  const batch = [];
  for (let i = 0; i < 60; i++) batch.push({ key: `sat-${i % 3}/temp`, value: i % 7 === 0 ? `note, "${i}"` : 20 + i / 10, state: T0 + i * 60_000, source: `sat-${i % 3}` });
  await r.receive(batch).durable;
  await r.close();
}

test('hamsync replay: NDJSON to stdout, CSV to --out, ISO ranges inclusive, no progress bar when piped', async (t) => {
  const dir = join(tempDir(t), 'd');
  await fleet(dir);
  const all = await run(['replay', '--data-dir', dir]);
  assert.equal(all.code, 0, all.err);
  assert.equal(all.err, '', 'no progress output on a pipe');
  const lines = all.out.trim().split('\n').map((l) => JSON.parse(l) as { k: string; s: number; src: string; outcome: string; rx: number; v: unknown });
  assert.equal(lines.length, 60);
  assert.deepEqual(Object.keys(lines[0] ?? {}), ['k', 'v', 's', 'src', 'outcome', 'deferred', 'rx']);
  assert.ok(lines.every((l, i) => i === 0 || l.s >= (lines[i - 1]?.s ?? 0)));
  // 14:10 to 14:20 inclusive: minutes 10..20 = 11 rows; one satellite: 4 rows (10, 13, 16, 19 are sat-1).
  const range = await run(['replay', '--data-dir', dir, '--from', '2026-11-25T14:10:00Z', '--to', '2026-11-25T14:20:00Z']);
  assert.equal(range.out.trim().split('\n').length, 11);
  const one = await run(['replay', '--data-dir', dir, '--from', '2026-11-25T14:10:00Z', '--to', '2026-11-25T14:20:00Z', '--key', 'sat-1/#']);
  assert.deepEqual(
    one.out.trim().split('\n').map((l) => (JSON.parse(l) as { s: number }).s),
    [10, 13, 16, 19].map((m) => T0 + m * 60_000),
  );
  const out = join(dir, '..', 'x.csv');
  const csv = await run(['replay', '--data-dir', dir, '--format', 'csv', '--out', out, '--source', 'sat-0', '--quiet']);
  assert.equal(csv.code, 0, csv.err);
  const text = readFileSync(out, 'utf8').trim().split('\n');
  assert.equal(text[0], 'k,v,s,src,outcome,deferred,rx');
  assert.equal(text.length, 21);
  assert.ok(text.includes(`sat-0/temp,"note, ""0""",${T0},sat-0,applied,false,${T0 + 3_600_000}`), text.slice(0, 3).join('\n'));
  // --loop over an empty selection ends (it must not spin with Ctrl-C blocked).
  const empty = await run(['replay', '--data-dir', dir, '--loop', '--key', 'nothing/#']);
  assert.equal(empty.code, 0, empty.err);
  assert.equal(empty.out, '');
  const bad = await run(['replay', '--data-dir', dir, '--from', 'yesterday']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /^hamsync: .*from must be an ISO 8601 time.*"yesterday"\n$/);
});

test('hamsync replay --to mqtt://: a plain subscriber receives every row on the replay topics; Ctrl-C stops a --loop cleanly', async (t) => {
  const dir = join(tempDir(t), 'd');
  await fleet(dir);
  const aedes = await Aedes.createBroker();
  const server = createServer((s) => aedes.handle(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'replay-observer' });
  t.after(async () => {
    await sub.endAsync();
    await new Promise<void>((r) => aedes.close(() => r()));
    await new Promise((r) => server.close(r));
  });
  const got: { topic: string; body: { v: unknown; s: number; src: string } }[] = [];
  sub.on('message', (topic, payload) => got.push({ topic, body: JSON.parse(payload.toString()) as { v: unknown; s: number; src: string } }));
  await sub.subscribeAsync('hamsync/default/replay/#', { qos: 1 });
  const r = await run(['replay', '--data-dir', dir, '--to', `mqtt://127.0.0.1:${port}`, '--speed', 'max', '--session', 'pass1', '--quiet']);
  assert.equal(r.code, 0, r.err);
  await poll(() => got.length >= 60, { timeoutMs: 2000, intervalMs: 20 });
  assert.equal(got.length, 60);
  assert.equal(got[0]?.topic, 'hamsync/default/replay/pass1/sat-0/temp');
  assert.deepEqual(got[1]?.body.s, T0 + 60_000);
  assert.equal(got[1]?.body.src, 'sat-1');
  // Paced at 600x real time, one pass of 60 rows 1 minute apart takes ~6 s: interrupt it after 2.5 s.
  got.length = 0;
  const started = Date.now();
  const looped = await run(['replay', '--data-dir', dir, '--to', `mqtt://127.0.0.1:${port}`, '--speed', '600', '--loop', '--session', 'loop'], { killAfterMs: 2500 });
  assert.equal(looped.code, 0, looped.err);
  assert.match(looped.err, /stopped after \d+ rows/);
  assert.ok(Date.now() - started < 6000, 'Ctrl-C ends the paced loop at once, not after the pass');
  assert.ok(got.length >= 1 && got.length < 30, `${got.length} rows in < 2.5 s at 600x (10 rows/s)`);
});
