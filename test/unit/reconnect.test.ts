/** The daemon's Reconnector against a fake MQTT client: backoff, the quiet log, status. */
import { test } from 'node:test';
import { createContext } from '../../src/context.js';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { Counters } from '../../src/counters.js';
import { Reconnector } from '../../src/daemon/reconnect.js';
import { recordingLogger } from '../devices/helpers.js';
import { until } from '../helpers/wait.js';

/** Each connect() fails with the error `failWith()` gives (or succeeds when it gives undefined). */
class FakeClient extends EventEmitter {
  connects = 0;
  constructor(private readonly failWith: () => (Error & { code?: string | number }) | undefined) {
    super();
  }
  connect(): void {
    this.connects++;
    setImmediate(() => this.attempt());
  }
  attempt(): void {
    const err = this.failWith();
    if (err) {
      this.emit('error', err);
      this.emit('close');
    } else {
      this.emit('connect');
    }
  }
}

function refused(rc: number): Error & { code: number } {
  return Object.assign(new Error(`Connection refused: ${rc === 4 ? 'Bad username or password' : 'Not authorized'}`), { code: rc });
}

test('Reconnector: retries a refused login with capped backoff, logs one line per kind of error and a periodic summary, resets on connect', async () => {
  let fakeNow = 1_000_000;
  let error: (Error & { code?: string | number }) | undefined = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9'), { code: 'ECONNREFUSED' });
  const client = new FakeClient(() => error);
  const log = recordingLogger();
  const counters = new Counters();
  const r = new Reconnector(createContext({ log, counters }), client, { minMs: 2, maxMs: 16, summaryEveryMs: 60_000, random: () => 0.5, now: () => fakeNow });
  const delays: number[] = [];
  client.on('close', () => delays.push((r.status().nextAttemptAt ?? 0) - fakeNow));
  client.attempt(); // the first attempt, as mqtt.connect() makes it

  await until(() => client.connects >= 6, { what: '6 reconnects' });
  assert.deepEqual(delays.slice(0, 6), [2, 4, 8, 16, 16, 16], 'doubling up to the cap (jitter 0 with random 0.5)');
  assert.equal(log.entries.length, 1, JSON.stringify(log.entries));
  assert.equal(log.entries[0]?.level, 'warn');

  // A different error (the broker is back but refuses the login) is a state change: one line.
  error = refused(5);
  await until(() => counters.get('link.refused') >= 3, { what: '3 refused logins' });
  assert.equal(log.entries.length, 2);
  assert.match(String(log.entries[1]?.fields.err), /Not authorized/);
  assert.equal(r.status().state === 'offline' || r.status().state === 'connecting', true);
  assert.match(r.status().lastError?.message ?? '', /Not authorized/);
  assert.equal(r.status().lastError?.code, 5);

  // Time passes (by the status clock): the next failure brings one summary, then quiet again.
  fakeNow += 60_000;
  const before = counters.get('link.failed');
  await until(() => counters.get('link.failed') >= before + 3, { what: '3 more failures' });
  const summaries = log.entries.filter((e) => e.msg === 'still offline');
  assert.equal(summaries.length, 1, JSON.stringify(log.entries));
  assert.ok((summaries[0]?.fields.offlineMs as number) >= 60_000);

  // The user was added: the next attempt logs in; failures reset; the recovery is one line.
  error = undefined;
  await until(() => r.status().state === 'connected', { what: 'connected' });
  assert.equal(r.status().failedAttempts, 0);
  assert.equal(log.entries.at(-1)?.msg, 'broker reachable again');
  assert.equal(counters.get('link.attempts'), client.connects + 1);
  r.stop();
});

test('Reconnector: a connection that drops at once does not reset the backoff; stop() ends the attempts', async () => {
  const fakeNow = 0;
  let up = true;
  const client = new FakeClient(() => (up ? undefined : refused(4)));
  const log = recordingLogger();
  const r = new Reconnector(createContext({ log }), client, { minMs: 2, maxMs: 64, stableMs: 10_000, random: () => 0.5, now: () => fakeNow });
  const delays: number[] = [];
  client.on('close', () => delays.push((r.status().nextAttemptAt ?? 0) - fakeNow));
  // Flapping: connected, then closed right away, again and again.
  client.on('connect', () => setImmediate(() => client.emit('close')));
  client.attempt();
  await until(() => delays.length >= 4, { what: '4 drops' });
  assert.deepEqual(delays.slice(0, 4), [2, 4, 8, 16], 'short-lived connections keep backing off');
  assert.equal(log.entries.filter((e) => e.msg.startsWith('broker connection lost')).length, delays.length);
  r.stop();
  up = false;
  const n = client.connects;
  assert.equal(r.status().state, 'stopped');
  assert.equal(r.status().nextAttemptAt, null);
  // A close after stop() schedules nothing.
  client.emit('close');
  assert.equal(r.status().nextAttemptAt, null);
  assert.equal(client.connects, n);
});
