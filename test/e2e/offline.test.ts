/**
 * Store-and-forward across a lost link.
 *
 * 1. One device ("rover") reaches the broker through a TCP proxy in this test, which is
 *    severed: rover keeps taking puts, is restarted while offline, then the proxy comes back
 *    on the same port. Both directions flow, HAM resolves the conflicting keys the same way
 *    everywhere, and every update is in every daemon's history exactly once.
 * 2. The broker itself stops (SIGTERM) and is restarted on the same port and data directory
 *    while both devices keep working offline.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { cliJson, getKey, Harness, historyOf, hubSnapshot, putApi, statusOf, type DaemonProc, type StatusView } from '../helpers/procs.js';
import { until } from '../helpers/wait.js';

/** A TCP proxy to the broker that the test can sever and restore (on the same port). */
class Proxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(port = this.port): Promise<void> {
    const server = net.createServer((down) => {
      const up = net.connect({ host: '127.0.0.1', port: this.targetPort });
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          down.destroy();
          up.destroy();
        });
      }
      down.pipe(up);
      up.pipe(down);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  /** Stops accepting and cuts every open connection (the device sees the link drop). */
  async sever(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }
}

interface Write {
  k: string;
  v: unknown;
  s: number;
  src: string;
}

/** HAM's winner among writes of one key: highest state, then lexically greater canonical JSON. */
function winner(writes: Write[]): Write {
  return writes.reduce((a, b) => (b.s > a.s || (b.s === a.s && JSON.stringify(b.v) > JSON.stringify(a.v)) ? b : a));
}

function byKey(writes: Write[]): Map<string, Write[]> {
  const m = new Map<string, Write[]>();
  for (const w of writes) m.set(w.k, [...(m.get(w.k) ?? []), w]);
  return m;
}

const fp = (w: { k: string; s: number; src: string; v: unknown }): string => JSON.stringify([w.k, w.s, w.src, w.v]);

/** Puts through the daemon's HTTP API (must answer 200) and records what was written. */
async function put(log: Write[], d: DaemonProc, updates: { k: string; v: unknown; s?: number }[]): Promise<void> {
  const results = await putApi(d.http, updates);
  results.forEach((r, i) => log.push({ k: r.k, v: updates[i]?.v, s: r.s, src: d.id }));
}

/** Logs the time each phase took (test diagnostics), to see where a slow run spent it. */
function phases(t: { diagnostic(msg: string): void }): (name: string) => void {
  let last = Date.now();
  return (name) => {
    const now = Date.now();
    t.diagnostic(`${name}: ${now - last} ms`);
    last = now;
  };
}

function drained(s: StatusView): boolean {
  return s.connected && s.outbox.messages === 0 && s.outbox.updates === 0 && s.outbox.inflight === 0;
}

test('a device cut off by a severed link keeps working, survives a restart, and resyncs both ways', { timeout: 55_000 }, async (t) => {
  const phase = phases(t);
  const h = new Harness(t);
  const broker = await h.broker();
  const proxy = new Proxy(broker.port);
  await proxy.start(0);
  h.defer(() => proxy.sever());
  let rover = await h.daemon({ id: 'rover', broker: `mqtt://127.0.0.1:${proxy.port}` });
  const base = await h.daemon({ id: 'base', broker: broker.url });
  const watcher = await h.watch(broker.url, ['hamsync/default/state/#'], 'state');
  for (const d of [rover, base]) await until(async () => (await statusOf(d.http)).connected, { timeoutMs: 10_000, what: `${d.id} connected` });

  phase('started');
  const writes: Write[] = [];
  await put(writes, rover, [{ k: 'warm/up', v: 1 }]);
  await until(async () => (await getKey(base.http, 'warm/up'))?.v === 1, { timeoutMs: 5000, what: 'the link to work before it is cut' });

  // Cut rover off.
  await proxy.sever();
  await until(async () => !(await statusOf(rover.http)).connected, { timeoutMs: 5000, what: 'rover to notice it is offline' });

  phase('cut off');
  const T = Date.now() - 60_000; // explicit states: in the past for every replica
  // Rover works offline: single puts, a batch, conflicting keys.
  for (let i = 1; i <= 5; i++) await put(writes, rover, [{ k: `rover/k${i}`, v: `r${i}` }]);
  await put(writes, rover, [{ k: 'rover/b1', v: { n: 1 } }, { k: 'rover/b2', v: [2] }, { k: 'rover/b3', v: true }]);
  await put(writes, rover, [{ k: 'conflict/rover-newer', v: 'rover', s: T + 2000 }]);
  await put(writes, rover, [{ k: 'conflict/rover-older', v: 'rover', s: T + 1000 }]);
  await put(writes, rover, [{ k: 'conflict/tie', v: 'Z-from-rover', s: T + 3000 }]);
  await put(writes, rover, [{ k: 'rover/k1', v: 'r1-again' }]); // overwrites its own earlier value
  // Meanwhile the other device keeps writing through the broker.
  for (let i = 1; i <= 5; i++) await put(writes, base, [{ k: `base/k${i}`, v: i * 10 }]);
  await put(writes, base, [{ k: 'conflict/rover-newer', v: 'base', s: T + 1000 }]);
  await put(writes, base, [{ k: 'conflict/rover-older', v: 'base', s: T + 2000 }]);
  await put(writes, base, [{ k: 'conflict/tie', v: 'A-from-base', s: T + 3000 }]);

  const roverOutbox = { messages: 10, updates: 12 };
  const offline = await statusOf(rover.http);
  assert.equal(offline.connected, false);
  assert.deepEqual({ messages: offline.outbox.messages, updates: offline.outbox.updates }, roverOutbox);
  assert.equal((await getKey(rover.http, 'base/k1')), undefined, 'nothing from base can reach rover while it is cut off');

  phase('offline puts');
  // Restart rover while offline: outbox and data survive.
  await rover.proc.stop();
  rover = await h.daemon(rover.options);
  const restarted = await cliJson<StatusView>(['status', '--json', '--http', rover.http]);
  assert.equal(restarted.connected, false);
  assert.deepEqual({ messages: restarted.outbox.messages, updates: restarted.outbox.updates }, roverOutbox);
  assert.deepEqual(await getKey(rover.http, 'rover/k1'), { k: 'rover/k1', v: 'r1-again', s: writes.find((w) => w.v === 'r1-again')?.s, src: 'rover' });
  await put(writes, rover, [{ k: 'rover/after-restart', v: 'yes' }]);
  assert.equal((await statusOf(rover.http)).outbox.updates, roverOutbox.updates + 1);

  phase('restarted offline');
  // The link comes back on the same port: rover reconnects by itself and drains its outbox.
  await proxy.start();
  const back = Date.now();
  await until(async () => drained(await statusOf(rover.http)), { timeoutMs: 15_000, intervalMs: 100, what: 'rover to reconnect and drain its outbox' });
  t.diagnostic(`rover reconnected and drained its outbox ${Date.now() - back} ms after the link came back`);

  phase('reconnected and drained');
  // Every replica converges on HAM's winner for every key.
  const expected = [...byKey(writes).values()].map(winner).sort((a, b) => (a.k < b.k ? -1 : 1));
  assert.equal(expected.find((w) => w.k === 'conflict/rover-newer')?.v, 'rover');
  assert.equal(expected.find((w) => w.k === 'conflict/rover-older')?.v, 'base');
  assert.equal(expected.find((w) => w.k === 'conflict/tie')?.v, 'Z-from-rover');
  for (const d of [rover, base]) {
    await until(
      async () => {
        for (const w of expected) assert.deepEqual(await getKey(d.http, w.k), w, `${d.id} ${w.k}`);
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 200, what: `${d.id} to hold every key's winner` },
    );
  }
  await until(
    async () => {
      const hub = (await hubSnapshot(broker.url)).sort((a, b) => (a.k < b.k ? -1 : 1));
      assert.deepEqual(hub, expected);
      return true;
    },
    { timeoutMs: 10_000, intervalMs: 200, what: 'the hub to hold every key\'s winner' },
  );
  for (const w of expected) assert.deepEqual(watcher.last(`hamsync/default/state/${w.k}`)?.json, { v: w.v, s: w.s, src: w.src }, `state topic of ${w.k}`);

  phase('converged');
  // Nothing lost, nothing duplicated: every write is in every daemon's history exactly once.
  for (const d of [rover, base]) {
    for (const [k, ws] of byKey(writes)) {
      const rows = await historyOf(d.http, k);
      assert.deepEqual(rows.map(fp).sort(), ws.map(fp).sort(), `${d.id} history of ${k}: ${JSON.stringify(rows)}`);
    }
    const s = await cliJson<StatusView>(['status', '--json', '--http', d.http]);
    assert.deepEqual(s.outbox, { messages: 0, updates: 0, inflight: 0 }, `${d.id} outbox`);
    assert.equal(s.live, expected.length, `${d.id} live keys`);
    assert.equal(s.deferred, 0);
  }
  phase('histories checked');
  await h.stopAll();
  phase('stopped');
});

test('the broker stops and restarts on the same port and data dir while devices work offline', { timeout: 55_000 }, async (t) => {
  const h = new Harness(t);
  let broker = await h.broker();
  const port = broker.port;
  let a = await h.daemon({ id: 'alpha', broker: broker.url });
  const b = await h.daemon({ id: 'bravo', broker: broker.url });
  for (const d of [a, b]) await until(async () => (await statusOf(d.http)).connected, { timeoutMs: 10_000, what: `${d.id} connected` });

  const writes: Write[] = [];
  await put(writes, a, [{ k: 'before/a', v: 'a0' }]);
  await put(writes, b, [{ k: 'before/b', v: 'b0' }]);
  for (const d of [a, b]) {
    await until(async () => (await getKey(d.http, 'before/a')) && (await getKey(d.http, 'before/b')), { timeoutMs: 5000, what: `${d.id} to see both early puts` });
  }

  // The broker goes down while both devices are connected: it must still exit 0, promptly.
  // (Recorded, not thrown at once, so the rest of the scenario still runs.)
  const stopError = await broker.proc.stop(5000).then(
    () => undefined,
    (err: Error) => err,
  );
  await broker.proc.kill();
  for (const d of [a, b]) await until(async () => !(await statusOf(d.http)).connected, { timeoutMs: 5000, what: `${d.id} to notice the broker is gone` });

  const T = Date.now() - 60_000;
  for (let i = 1; i <= 3; i++) await put(writes, a, [{ k: `down/a${i}`, v: i }]);
  for (let i = 1; i <= 3; i++) await put(writes, b, [{ k: `down/b${i}`, v: -i }]);
  await put(writes, a, [{ k: 'down/conflict', v: 'alpha', s: T + 1000 }]);
  await put(writes, b, [{ k: 'down/conflict', v: 'bravo', s: T + 2000 }]);
  await a.proc.stop();
  a = await h.daemon(a.options);
  assert.equal((await statusOf(a.http)).outbox.updates, 4, 'alpha\'s outbox survives its restart');
  await put(writes, a, [{ k: 'down/a-after-restart', v: 'x' }]);

  // Same port, same data dir: the hub still has what it had.
  broker = await h.broker({ port, dataDir: broker.dataDir, name: 'broker#2' });
  assert.equal(broker.port, port);
  const back = Date.now();
  for (const d of [a, b]) await until(async () => drained(await statusOf(d.http)), { timeoutMs: 15_000, intervalMs: 100, what: `${d.id} to reconnect and drain` });
  t.diagnostic(`both devices reconnected and drained ${Date.now() - back} ms after the broker came back`);

  const expected = [...byKey(writes).values()].map(winner).sort((x, y) => (x.k < y.k ? -1 : 1));
  assert.equal(expected.find((w) => w.k === 'down/conflict')?.v, 'bravo');
  await until(
    async () => {
      assert.deepEqual((await hubSnapshot(broker.url)).sort((x, y) => (x.k < y.k ? -1 : 1)), expected);
      for (const d of [a, b]) for (const w of expected) assert.deepEqual(await getKey(d.http, w.k), w, `${d.id} ${w.k}`);
      return true;
    },
    { timeoutMs: 10_000, intervalMs: 200, what: 'the hub and both devices to hold every key\'s winner' },
  );
  // No duplicates anywhere; every winner and each device's own writes are in its history.
  // (A superseded update of the *other* device may legitimately arrive only as its winner via
  // catch-up, because the restarted broker lost the persistent sessions.)
  for (const d of [a, b]) {
    for (const [k, ws] of byKey(writes)) {
      const rows = (await historyOf(d.http, k)).map(fp);
      assert.equal(new Set(rows).size, rows.length, `${d.id} history of ${k} has duplicates: ${rows.join(' ')}`);
      for (const w of ws) if (w.src === d.id || w === winner(ws)) assert.ok(rows.includes(fp(w)), `${d.id} history of ${k} lacks ${fp(w)}`);
      for (const r of rows) assert.ok(ws.map(fp).includes(r), `${d.id} history of ${k} has a row nobody wrote: ${r}`);
    }
  }

  await h.stopAll();
  if (stopError) throw stopError;
});
