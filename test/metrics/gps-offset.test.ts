/**
 * The GPS-vs-system clock offset of a daemon running a gpsd source (a scripted stand-in for gpsd
 * here: a TCP server that answers WATCH with one TPV 3 s ahead of the system clock) shows in the
 * daemon's /metrics and, beside the skew estimate, in the hub's /v1/fleet.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBroker } from '../../broker/server.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { parsePromText, valueOf } from '../helpers/prom-text.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from '../helpers/wait.js';

async function fakeGpsd(aheadMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write('{"class":"VERSION","release":"fake","rev":"fake","proto_major":3,"proto_minor":14}\r\n');
    socket.setEncoding('utf8').on('data', (s: string) => {
      if (!s.includes('?WATCH')) return;
      const time = new Date(Date.now() + aheadMs).toISOString();
      socket.write(`${JSON.stringify({ class: 'TPV', device: '/dev/ttyS0', mode: 3, time, lat: 48.2, lon: 8.4 })}\r\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return { port: (server.address() as net.AddressInfo).port, close };
}

test('a gpsd source\'s clock offset: hamsync_gps_clock_offset_seconds on the daemon, gpsOffsetMs in the hub\'s fleet view', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t);
  const gps = await fakeGpsd(3000);
  const b = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub'), http: { host: '127.0.0.1', port: 0 } });
  t.after(() => b.close());
  const d = await Daemon.start({ id: 'gps-1', broker: `mqtt://127.0.0.1:${b.port}`, dataDir: join(dir, 'd'), http: '127.0.0.1:0', sources: [{ type: 'gpsd', port: gps.port, interval: '100ms' }] });
  // The daemon stops before the fake gpsd closes: a gpsd source stopped while it waits to
  // reconnect (after gpsd closed) can keep the daemon's stop from finishing.
  t.after(async () => {
    await d.stop();
    await gps.close();
  });
  const offset = await until(async () => {
    const m = parsePromText(await (await fetch(`http://127.0.0.1:${d.httpPort}/metrics`)).text());
    try {
      return valueOf(m, 'hamsync_gps_clock_offset_seconds', { source: 'gpsd' });
    } catch {
      return undefined;
    }
  }, { what: 'the daemon\'s GPS offset metric' });
  assert.ok(Math.abs(offset - 3) < 0.5, `daemon GPS offset ${offset} s`);
  const device = await until(async () => {
    const body = (await (await fetch(`http://127.0.0.1:${b.httpPort as number}/v1/fleet`)).json()) as { devices: { id: string; gpsOffsetMs: number | null; skewS: number | null }[] };
    return body.devices.find((x) => x.id === 'gps-1' && x.gpsOffsetMs !== null);
  }, { what: 'the hub\'s fleet view of gps-1 with its GPS offset' });
  assert.ok(Math.abs((device.gpsOffsetMs as number) - 3000) < 500, `hub sees GPS offset ${device.gpsOffsetMs} ms`);
  assert.ok(device.skewS !== null && Math.abs(device.skewS) < 0.5, `its system clock is the hub's: skew ${device.skewS}`);
});
