import type { Argv } from 'yargs';
import { call, print, withClient } from './client.js';

export const command = 'status';
export const describe = 'Show the local daemon\'s status; exits non-zero when no daemon answers';

export function builder(y: Argv) {
  return withClient(y).example('$0 status', 'connection, outbox, deferred, counters');
}

export async function handler(argv: { http: string; json: boolean }): Promise<void> {
  const { body: s } = await call(argv.http, 'GET', '/v1/status');
  const outbox = s.outbox as { messages: number; updates: number; inflight: number };
  print(argv.json, s, () =>
    [
      `device    ${String(s.id)} (ns ${String(s.ns)})`,
      `broker    ${String(s.broker)} — ${s.connected ? 'connected' : 'NOT connected (working offline)'}`,
      `live      ${String(s.live)} keys`,
      `deferred  ${String(s.deferred)} updates waiting for the clock`,
      `outbox    ${outbox.updates} updates in ${outbox.messages} messages not yet acknowledged (${outbox.inflight} in flight)`,
      `counters  ${JSON.stringify(s.counters)}`,
    ].join('\n'),
  );
}
