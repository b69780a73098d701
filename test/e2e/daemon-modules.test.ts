import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { api, Harness } from '../helpers/procs.js';
import { until } from '../helpers/wait.js';
import { loadHookEnv } from '../helpers/load-hook.js';

// The Pi budget (docs/operations.md): what a connected, unscraped daemon must not hold in memory.
test('a running daemon never loads the broker, the demo or the dashboard, and loads prom-client only on the first /metrics scrape', async (t) => {
  const h = new Harness(t);
  const broker = await h.broker();
  const loaded = join(h.tempDir('modules'), 'loaded.txt');
  const d = await h.daemon({ id: 'pi-mods', broker: broker.url, env: loadHookEnv(loaded) });
  await until(async () => ((await api(d.http, 'GET', '/readyz')).status === 200 ? true : undefined));
  await until(async () => ((await api(d.http, 'GET', '/v1/status')).body as { connected?: boolean }).connected);
  const modules = (): string[] => readFileSync(loaded, 'utf8').split('\n').filter((l) => l !== '');
  const before = modules();
  assert.ok(before.some((m) => m.endsWith('/src/daemon/daemon.js')), 'the hook saw the daemon load');
  for (const m of before) {
    assert.doesNotMatch(m, /\/dist\/(broker|src\/demo)\/|\/node_modules\/(aedes|prom-client|uplot|playwright-core)\//, 'loaded by an idle daemon');
  }
  const scrape = await fetch(`http://${d.http}/metrics`);
  assert.match(await scrape.text(), /^hamsync_link_up 1$/m);
  assert.ok(modules().some((m) => m.includes('/node_modules/prom-client/')), 'the first scrape loads prom-client');
  await d.proc.stop(); // asserts exit 0
  await broker.proc.stop();
});
