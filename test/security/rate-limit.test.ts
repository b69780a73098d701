import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import mqtt, { type MqttClient } from 'mqtt';
import { RateLimiter, resolveRateLimit } from '../../broker/rate-limit.js';
import { startBroker } from '../../broker/server.js';
import { Harness } from '../helpers/procs.js';
import { until } from '../helpers/wait.js';
import { expectHamsyncError } from '../helpers/errors.js';

describe('rate limiter (token bucket per device)', () => {
  it('allows a burst, then the sustained rate, and refuses whole messages that would overdraw', () => {
    let t = 0;
    const r = new RateLimiter({ perSecond: 100, burst: 500 }, () => t);
    assert.equal(r.take('a', 500), true);
    assert.equal(r.take('a', 1), false, 'bucket empty');
    t += 1000; // +100 tokens
    assert.equal(r.take('a', 101), false, 'a message larger than what refilled takes nothing');
    assert.equal(r.take('a', 60), true);
    assert.equal(r.take('a', 40), true);
    assert.equal(r.take('a', 1), false);
    t += 1_000_000;
    assert.equal(r.take('a', 500), true, 'refills up to the burst only');
    assert.equal(r.take('a', 1), false);
  });

  it('keeps devices apart', () => {
    const t = 0;
    const r = new RateLimiter({ perSecond: 10, burst: 10 }, () => t);
    assert.equal(r.take('a', 10), true);
    assert.equal(r.take('a', 1), false);
    assert.equal(r.take('b', 10), true);
  });

  it('is off with perSecond 0', () => {
    const r = new RateLimiter({ perSecond: 0 }, () => 0);
    assert.equal(r.enabled, false);
    for (let i = 0; i < 10; i++) assert.equal(r.take('a', 1e9), true);
    assert.equal(r.size, 0);
  });

  it('forgets refilled buckets once it tracks too many, but never a draining one', () => {
    let t = 0;
    const r = new RateLimiter({ perSecond: 1, burst: 5 }, () => t, 100);
    assert.equal(r.take('busy', 5), true);
    for (let i = 0; i < 99; i++) r.take(`idle-${i}`, 1);
    assert.equal(r.size, 100);
    t += 4_500; // idle ones refilled (4 + 4.5 >= 5), busy has 4.5 < 5
    r.take('new', 1);
    assert.equal(r.size, 2, 'only busy and new are left');
    assert.equal(r.take('busy', 5), false, 'the draining bucket kept its state');
  });

  it('validates its options, naming the field and the value', () => {
    assert.match(expectHamsyncError(() => resolveRateLimit({ perSecond: -1 }), 'HAMSYNC_ERR_CONFIG', 'resolveRateLimit({ perSecond: -1 })').message, /rateLimit\.perSecond.*-1/);
    assert.match(expectHamsyncError(() => resolveRateLimit({ burst: Number.NaN }), 'HAMSYNC_ERR_CONFIG', 'resolveRateLimit({ burst: Number.NaN })').message, /rateLimit\.burst/);
    assert.match(expectHamsyncError(() => resolveRateLimit({ perSecond: 5, burst: 0 }), 'HAMSYNC_ERR_CONFIG', 'resolveRateLimit({ perSecond: 5, burst: 0 })').message, /rateLimit\.burst/);
    assert.match(expectHamsyncError(() => resolveRateLimit({ rate: 1 } as never), 'HAMSYNC_ERR_CONFIG', 'resolveRateLimit({ rate: 1 } as never)').message, /rateLimit\.rate/);
    assert.deepEqual(resolveRateLimit({}), { perSecond: 2000, burst: 100_000 });
  });
});

describe('rate limit at the broker', () => {
  it('refuses a device over its limit (counted, not stored, disconnected without ack), others flow, and the retry goes through later', { timeout: 30_000 }, async (t) => {
    const h = new Harness(t);
    const broker = await startBroker({ port: 0, host: '127.0.0.1', dataDir: h.tempDir('hub'), rateLimit: { perSecond: 50, burst: 300 } });
    h.defer(() => broker.close());
    const url = `mqtt://127.0.0.1:${broker.port}`;
    // This one reconnects (as a daemon's link does), so its refused message is sent again.
    const noisy = await mqtt.connectAsync(url, { clientId: 'noisy-device', clean: true, reconnectPeriod: 300, connectTimeout: 5000 });
    h.defer(() => noisy.endAsync(true));
    const calm = await h.mqtt(url, 'calm');
    const put = (c: MqttClient, device: string, key: string, n: number): Promise<unknown> =>
      c.publishAsync(`hamsync/default/put/${device}`, JSON.stringify({ src: device, u: Array.from({ length: n }, (_, i) => ({ k: `${key}/${i}`, v: i, s: Date.now() - 1000 })) }), { qos: 1 });
    const wait: Promise<unknown>[] = [];
    await put(noisy, 'noisy', 'n/a', 100);
    await put(noisy, 'noisy', 'n/b', 100);
    await put(noisy, 'noisy', 'n/c', 100); // 300: the whole burst
    const t0 = performance.now();
    wait.push(put(noisy, 'noisy', 'n/d', 100)); // over: refused whole, no PUBACK, disconnected
    await until(() => broker.hub.counters.get('rejected.HAMSYNC_ERR_RATE') >= 1, { what: 'rate rejection counted' });
    await put(calm, 'calm', 'c/a', 100);
    await until(() => broker.replica.get('c/a/99') !== undefined, { what: 'calm device stored' });
    assert.ok(broker.replica.get('n/c/99'), 'within the burst: stored');
    assert.equal(broker.replica.get('n/d/0'), undefined, 'over the limit: nothing of the message stored');
    // MQTT.js keeps the unacknowledged message and sends it again after reconnecting; once the
    // bucket has refilled (100 tokens at 50/s: ~2 s) it goes through. Nothing is lost.
    await Promise.all(wait);
    const waited = performance.now() - t0;
    assert.ok(broker.replica.get('n/d/99'), 'stored after the retry');
    assert.ok(waited >= 1500, `went through only once the bucket refilled (${waited.toFixed(0)} ms)`);
    assert.ok(broker.hub.counters.get('rejected.HAMSYNC_ERR_RATE') >= 1);
    assert.equal(broker.hub.counters.get('rejected.HAMSYNC_ERR_RATE'), broker.hub.counters.get('messages.rate-limited'));
  });
});
