/**
 * The gpsd source against a scripted stand-in for gpsd (a plain TCP server): the WATCH command,
 * TPV → readings, stamping, pacing, malformed and overlong lines, odd times, reconnects.
 * The same source against a real gpsd is in gpsd.test.ts.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { createSource, GpsdSource } from '../../devices/index.js';
import { Collector, recordingLogger, type LogEntry } from './helpers.js';
import { sleep } from '../helpers/wait.js';
import { freePort } from '../helpers/ports.js';

/** A one-client TCP server that records what it is sent and sends what it is told. */
class FakeGpsd {
  received = '';
  connections = 0;
  private current: net.Socket | undefined;
  readonly sockets = new Set<net.Socket>();

  private constructor(
    readonly server: net.Server,
    readonly port: number,
  ) {
    server.on('connection', (socket) => {
      this.connections++;
      this.current = socket;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.setEncoding('utf8').on('data', (s: string) => (this.received += s));
      socket.on('error', () => undefined);
      socket.write('{"class":"VERSION","release":"fake","rev":"fake","proto_major":3,"proto_minor":14}\r\n');
    });
  }

  static listen(port = 0): Promise<FakeGpsd> {
    const server = net.createServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve(new FakeGpsd(server, (server.address() as net.AddressInfo).port)));
    });
  }

  async connected(n = 1): Promise<void> {
    const deadline = Date.now() + 5000;
    while (this.connections < n || !this.received.includes('?WATCH')) {
      if (Date.now() > deadline) throw new Error(`no WATCH on connection ${n} within 5 s (${this.connections} connections, got ${JSON.stringify(this.received)})`);
      await sleep(10);
    }
  }

  send(text: string): void {
    assert.ok(this.current, 'no client connected');
    this.current.write(text);
  }

  drop(): void {
    this.current?.destroy();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((r) => this.server.close(r));
  }
}

const tpv = (fields: Record<string, unknown>): string => `${JSON.stringify({ class: 'TPV', device: '/dev/ttyAMA0', ...fields })}\r\n`;

function gpsd(port: number, extra: Record<string, unknown> = {}, now?: () => number, entries: LogEntry[] = []): GpsdSource {
  const s = createSource({ type: 'gpsd', port, interval: '100ms', reconnectMin: '20ms', reconnectMax: '200ms', prefix: 'car', ...extra }, 'dev', recordingLogger(entries));
  assert.ok(s instanceof GpsdSource);
  // createSource does not take a clock; tests that need one build the source directly.
  return now ? new GpsdSource(s.options, recordingLogger(entries), now) : s;
}

test('sends WATCH on connect and turns a TPV into readings; clock offset = GPS time - receipt', async (t) => {
  const fake = await FakeGpsd.listen();
  t.after(() => fake.close());
  const receivedAt = Date.UTC(2026, 10, 25, 12, 0, 0, 250);
  const s = gpsd(fake.port, {}, () => receivedAt);
  const c = new Collector();
  s.start(c.emit);
  t.after(() => s.stop());
  await fake.connected();
  assert.equal(fake.received, '?WATCH={"enable":true,"json":true}\n');
  fake.send('{"class":"DEVICES","devices":[]}\r\n{"class":"WATCH","enable":true}\r\n');
  fake.send(tpv({ mode: 3, time: '2026-11-25T12:00:02.000Z', lat: 48.217558333, lon: 8.414495, altHAE: 813.2, altMSL: 765.8, alt: 765.8, track: 0, speed: 3.375 }));
  await c.until(() => c.batches.length === 1, 'one batch');
  assert.deepEqual(c.batches[0]?.readings, [
    { key: 'car/gps/fix', value: '3d' },
    { key: 'car/gps/lat', value: 48.217558333 },
    { key: 'car/gps/lon', value: 8.414495 },
    { key: 'car/gps/alt', value: 765.8 },
    { key: 'car/gps/speed', value: 3.375 },
    { key: 'car/gps/track', value: 0 },
    { key: 'car/gps/time', value: '2026-11-25T12:00:02.000Z' },
    { key: 'car/gps/clock-offset-ms', value: 1750 },
  ]);
  const stats = s.stats();
  assert.equal(stats.connected, true);
  assert.equal(stats.connects, 1);
  assert.equal(stats.tpv, 1);
  assert.equal(stats.malformed, 0);
  assert.equal(stats.batches, 1);
});

test('fix names, alt without altMSL, missing fields give no reading', async (t) => {
  const fake = await FakeGpsd.listen();
  t.after(() => fake.close());
  const s = gpsd(fake.port);
  const c = new Collector();
  s.start(c.emit);
  t.after(() => s.stop());
  await fake.connected();
  const cases: [Record<string, unknown>, unknown][] = [
    [{ mode: 0 }, [{ key: 'car/gps/fix', value: 'none' }]],
    [{ mode: 1 }, [{ key: 'car/gps/fix', value: 'none' }]],
    [{ mode: 2, lat: -27.2, lon: 153.05, alt: 4 }, [{ key: 'car/gps/fix', value: '2d' }, { key: 'car/gps/lat', value: -27.2 }, { key: 'car/gps/lon', value: 153.05 }, { key: 'car/gps/alt', value: 4 }]],
    [{ mode: 3, lat: 'x', lon: 200, speed: null, track: '1' }, [{ key: 'car/gps/fix', value: '3d' }]],
    [{ mode: 7, lat: 1 }, [{ key: 'car/gps/lat', value: 1 }]],
  ];
  for (const [fields, expected] of cases) {
    const before = c.batches.length;
    fake.send(tpv(fields));
    await c.until(() => c.batches.length > before, `batch for ${JSON.stringify(fields)}`);
    assert.deepEqual(c.batches.at(-1)?.readings, expected, JSON.stringify(fields));
  }
});

test('at most one batch per interval: the latest TPV of the interval', async (t) => {
  const fake = await FakeGpsd.listen();
  t.after(() => fake.close());
  const s = gpsd(fake.port, { interval: '400ms' });
  const c = new Collector();
  s.start(c.emit);
  t.after(() => s.stop());
  await fake.connected();
  await sleep(450); // let an interval with nothing in it pass: it emits nothing
  assert.equal(c.batches.length, 0);
  let burst = '';
  for (let i = 1; i <= 20; i++) burst += tpv({ mode: 3, lat: i, lon: i });
  fake.send(burst);
  await c.until(() => c.batches.length >= 1, 'a batch');
  await sleep(500);
  assert.equal(c.batches.length, 1, 'one batch for the burst');
  assert.deepEqual(c.values('car/gps/lat'), [20]);
  assert.equal(s.stats().tpv, 20);
});

test('malformed and overlong lines are ignored and counted; the stream goes on', async (t) => {
  const fake = await FakeGpsd.listen();
  t.after(() => fake.close());
  const entries: LogEntry[] = [];
  const s = gpsd(fake.port, { maxLine: 1024 }, undefined, entries);
  const c = new Collector();
  s.start(c.emit);
  t.after(() => s.stop());
  await fake.connected();
  fake.send('not json\r\n[1,2]\r\nnull\r\n{"no":"class"}\r\n{"class":3}\r\n{"class":"TPV",\r\n\r\n');
  fake.send(`{"class":"TPV","mode":3,"pad":"${'x'.repeat(3000)}"}\r\n`); // one line, 3 KB
  fake.send(`{"class":"TPV","mode":3,"pad":"${'y'.repeat(900)}`); // overlong line split over writes
  await sleep(20);
  fake.send(`${'y'.repeat(900)}"}\r\n`);
  fake.send(tpv({ mode: 2, lat: 1.5, lon: 2.5 }));
  await c.until(() => c.batches.length >= 1, 'a batch after the junk');
  assert.deepEqual(c.values('car/gps/lat'), [1.5]);
  const st = s.stats();
  assert.equal(st.malformed, 6);
  assert.equal(st.oversized, 2);
  assert.equal(st.tpv, 1);
  assert.equal(st.connected, true);
  assert.ok(entries.some((e) => e.msg === 'malformed gpsd line ignored'));
  assert.ok(!entries.some((e) => e.level === 'error'));
});

test('odd times: no time or clock-offset reading, the rest still comes; never a throw', async (t) => {
  const fake = await FakeGpsd.listen();
  t.after(() => fake.close());
  const s = gpsd(fake.port);
  const c = new Collector();
  s.start(c.emit);
  t.after(() => s.stop());
  await fake.connected();
  const odd = [undefined, null, 12345, '', 'garbage', '2035-02-30T09:28:36.000Z', '2035-02-04T24:00:00.000Z', '2016-12-31T23:59:60.000Z', '1970-01-01T00:00:00.000Z', '2035-02-04T09:28:36.000+01:00', '+275760-09-13T00:00:00.000Z', '2035-02-04 09:28:36Z', { y: 2035 }];
  for (const time of odd) {
    const before = c.batches.length;
    fake.send(tpv({ mode: 3, lat: 10, lon: 20, time }));
    await c.until(() => c.batches.length > before, `batch for time ${JSON.stringify(time)}`);
    assert.deepEqual(
      c.batches.at(-1)?.readings.map((r) => r.key),
      ['car/gps/fix', 'car/gps/lat', 'car/gps/lon'],
      `time ${JSON.stringify(time)}`,
    );
  }
  assert.equal(s.stats().untimed, odd.length);
  // Far but valid times are values like any other.
  fake.send(tpv({ mode: 3, time: '9999-12-31T23:59:59.999999Z' }));
  await c.until(() => c.values('car/gps/time').length === 1, 'a time reading');
  assert.deepEqual(c.values('car/gps/time'), ['9999-12-31T23:59:59.999999Z']);
});

test("stamp 'gps': every reading carries the GPS time as state; a TPV without time gives nothing", async (t) => {
  const fake = await FakeGpsd.listen();
  t.after(() => fake.close());
  const s = gpsd(fake.port, { stamp: 'gps' });
  const c = new Collector();
  s.start(c.emit);
  t.after(() => s.stop());
  await fake.connected();
  fake.send(tpv({ mode: 1 }));
  await sleep(250);
  assert.equal(c.batches.length, 0, 'a TPV without time is not emitted when stamping by GPS');
  fake.send(tpv({ mode: 3, time: '2035-02-04T09:28:36.123Z', lat: 48.069082667, lon: 16.358997333 }));
  await c.until(() => c.batches.length === 1, 'a batch');
  const readings = c.batches[0]?.readings ?? [];
  const state = Date.UTC(2035, 1, 4, 9, 28, 36, 123);
  assert.deepEqual(
    readings.map((r) => [r.key, r.state]),
    ['fix', 'lat', 'lon', 'time', 'clock-offset-ms'].map((k) => [`car/gps/${k}`, state]),
  );
  const offset = readings.find((r) => r.key === 'car/gps/clock-offset-ms')?.value as number;
  assert.ok(Math.abs(offset - (state - Date.now())) < 5000, `offset ${offset}`);
});

test('reconnects with backoff while gpsd is away, and after gpsd drops the connection', async (t) => {
  const port = await freePort();
  const entries: LogEntry[] = [];
  const s = gpsd(port, {}, undefined, entries);
  const c = new Collector();
  s.start(c.emit);
  t.after(() => s.stop());
  await sleep(300); // nobody listens: a few refused connections
  assert.equal(s.stats().connected, false);
  assert.equal(entries.filter((e) => e.level === 'warn' && e.msg === 'gpsd not reachable').length, 1, 'one warning, then debug');
  assert.ok(entries.some((e) => e.msg === 'gpsd still not reachable'), 'retried');
  const fake = await FakeGpsd.listen(port);
  t.after(() => fake.close());
  await fake.connected(1);
  fake.send(tpv({ mode: 2, lat: 1, lon: 1 }));
  await c.until(() => c.batches.length === 1, 'a batch on the first connection');
  fake.drop();
  await fake.connected(2);
  assert.ok(entries.some((e) => e.level === 'warn' && e.msg === 'lost gpsd connection'));
  fake.send(tpv({ mode: 3, lat: 2, lon: 2 }));
  await c.until(() => c.batches.length === 2, 'a batch on the second connection');
  assert.equal(s.stats().connects, 2);
});

test('stop closes the connection, emits nothing more, and is idempotent; start twice throws', async (t) => {
  const fake = await FakeGpsd.listen();
  t.after(() => fake.close());
  const s = gpsd(fake.port);
  const c = new Collector();
  s.start(c.emit);
  assert.throws(() => s.start(c.emit), /already running/);
  await fake.connected();
  fake.send(tpv({ mode: 3, lat: 5, lon: 5 }));
  await s.stop();
  await s.stop();
  await sleep(250);
  assert.equal(c.batches.length, 0, 'the pending TPV is dropped with the session');
  assert.equal(s.stats().connected, false);
  const deadline = Date.now() + 2000;
  while (fake.sockets.size > 0 && Date.now() < deadline) await sleep(10);
  assert.equal(fake.sockets.size, 0, 'server side sees the close');
});
