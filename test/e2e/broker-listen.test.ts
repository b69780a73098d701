/**
 * A port already in use is a one-line coded error from `hamsync broker`, for the MQTT port and the
 * WebSocket port alike (issue 14, item 7): no unhandled EADDRINUSE, no stack trace.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { runCli } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';

test('hamsync broker: --ws-port or --port in use exits with one HAMSYNC_ERR_LISTEN line', async (t) => {
  const taken = net.createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  t.after(() => taken.close());
  const port = (taken.address() as net.AddressInfo).port;
  for (const [flag, other] of [['--ws-port', '--port'], ['--port', '--ws-port']] as const) {
    const r = await runCli(['broker', flag, String(port), other, '0', '--host', '127.0.0.1', '--data-dir', tempDir(t), '--log-level', 'warn']);
    assert.notEqual(r.code, 0, `${flag}: exit code`);
    const lines = r.stderr.trim().split('\n');
    assert.deepEqual(lines.length, 1, `${flag}: one line on stderr, got ${JSON.stringify(r.stderr)}`);
    assert.match(lines[0] as string, new RegExp(`^hamsync: HAMSYNC_ERR_LISTEN: cannot listen for .* on 127\\.0\\.0\\.1:${port}: the port is in use$`));
    assert.doesNotMatch(r.stderr, /\n\s+at |EADDRINUSE/);
  }
});
