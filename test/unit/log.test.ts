/**
 * The logger (pino behind hamsync's small Logger interface): the line format journald and jq
 * read, level filtering, child context, Error fields with stack and code, redacted secrets.
 * Lines are captured through the `write` argument (one call per line, synchronously).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HamsyncError } from '../../src/errors.js';
import { assertLevel, createLogger, silentLogger, type Level, type Logger } from '../../src/log.js';

function capture(level: Level, base: Record<string, unknown> = {}): { log: Logger; lines: string[]; parsed: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const log = createLogger(level, base, (l) => lines.push(l));
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

test('line format: one JSON object per line; level by name, ISO 8601 time, context, msg, then fields', () => {
  const { log, lines, parsed } = capture('info', { app: 'hamsync', device: 'pi-7' });
  log.info('connected to broker', { broker: 'mqtt://127.0.0.1:1883', sessionPresent: false, text: 'two\nlines' });
  assert.equal(lines.length, 1);
  const line = lines[0] as string;
  assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'), 'a single line, newline-terminated (a newline in a value is escaped)');
  const o = parsed()[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(o), ['level', 'time', 'app', 'device', 'msg', 'broker', 'sessionPresent', 'text']);
  assert.equal(o.level, 'info');
  assert.match(String(o.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(String(o.time)) - Date.now()) < 60_000, 'the time is now');
  assert.deepEqual([o.msg, o.broker, o.sessionPresent, o.text], ['connected to broker', 'mqtt://127.0.0.1:1883', false, 'two\nlines']);
  assert.ok(!('pid' in o) && !('hostname' in o), 'no pid or hostname: journald has them');
});

test('level filtering: each level writes itself and above; silent writes nothing', () => {
  const order: Exclude<Level, 'silent'>[] = ['debug', 'info', 'warn', 'error'];
  for (const level of [...order, 'silent'] as Level[]) {
    const { log, parsed } = capture(level);
    for (const l of order) log[l](`at ${l}`);
    const want = level === 'silent' ? [] : order.slice(order.indexOf(level));
    assert.deepEqual(parsed().map((o) => o.level), want, `level ${level}`);
    assert.deepEqual(parsed().map((o) => o.msg), want.map((l) => `at ${l}`));
  }
  const { log, lines } = capture('warn');
  log.child({ component: 'link' }).info('filtered in a child too');
  assert.equal(lines.length, 0);
});

test('child loggers add their fields to every line and leave the parent alone; a call\'s fields win', () => {
  const { log, parsed } = capture('debug', { app: 'hamsync' });
  const link = log.child({ component: 'link' });
  const gps = link.child({ source: 'gpsd' });
  gps.debug('gpsd version', { release: '3.25' });
  link.info('connected');
  log.warn('plain');
  gps.info('override', { source: 'other' });
  const [a, b, c, d] = parsed();
  assert.deepEqual([a?.app, a?.component, a?.source, a?.release, a?.msg], ['hamsync', 'link', 'gpsd', '3.25', 'gpsd version']);
  assert.deepEqual([b?.component, 'source' in (b ?? {})], ['link', false]);
  assert.deepEqual(['component' in (c ?? {}), c?.app], [false, 'hamsync']);
  assert.equal(d?.source, 'other', 'as JSON.parse and jq read it, the call\'s field wins over the context');
});

test('errors keep their message, stack and code, in `err` or any other field', () => {
  const { log, parsed } = capture('info');
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1883'), { code: 'ECONNREFUSED', errno: -111 });
  const ours = new HamsyncError('HAMSYNC_ERR_PAYLOAD', 'value must be JSON', { field: 'v' });
  log.error('store failed', { err: refused, cause: ours, messages: 3 });
  log.warn('a string err stays a string', { err: 'timeout' });
  const [a, b] = parsed();
  const err = a?.err as Record<string, unknown>;
  assert.deepEqual([err.type, err.message, err.code, err.errno], ['Error', 'connect ECONNREFUSED 127.0.0.1:1883', 'ECONNREFUSED', -111]);
  assert.match(String(err.stack), /^Error: connect ECONNREFUSED[^\n]*\n\s+at .*log\.test\.js/);
  const cause = a?.cause as Record<string, unknown>;
  assert.deepEqual([cause.type, cause.code, cause.details], ['HamsyncError', 'HAMSYNC_ERR_PAYLOAD', { field: 'v' }]);
  assert.match(String(cause.stack), /^HamsyncError: HAMSYNC_ERR_PAYLOAD: value must be JSON\n\s+at /);
  assert.equal(a?.messages, 3);
  assert.equal(b?.err, 'timeout');
});

test('secrets are redacted (the REDACTED_FIELDS paths): passwords, keys, tokens, HTTP credentials; other fields are kept', () => {
  const { log, lines, parsed } = capture('info');
  log.info('config', {
    password: 'hunter2',
    signingKey: "/etc/hamsync/pi-7.key",
    token: 'tok-123',
    options: { username: 'pi-7', password: 'hunter3' },
    signing: { pub: 'ed25519:abc', privateKey: 'PEM-SECRET' },
    tls: { cert: 'cert.pem', key: 'KEY-PEM' },
    headers: { authorization: 'Basic cGk6aHVudGVyMg==', host: '127.0.0.1' },
    user: { id: 'dash', salt: 'c2FsdA==', hash: 'aGFzaA==' },
    key: 'sat/temp',
  });
  const text = lines.join('');
  for (const secret of ['hunter2', 'hunter3', 'pi-7.key', 'tok-123', 'PEM-SECRET', 'KEY-PEM', 'cGk6', 'c2FsdA', 'aGFzaA']) assert.ok(!text.includes(secret), `${secret} must not be logged: ${text}`);
  const o = parsed()[0] as Record<string, Record<string, unknown>>;
  assert.equal(o.password as unknown, '[Redacted]');
  assert.deepEqual(o.options, { username: 'pi-7', password: '[Redacted]' });
  assert.deepEqual(o.signing, { pub: 'ed25519:abc', privateKey: '[Redacted]' });
  assert.deepEqual(o.tls, { cert: 'cert.pem', key: '[Redacted]' });
  assert.deepEqual(o.headers, { authorization: '[Redacted]', host: '127.0.0.1' });
  assert.equal(o.key as unknown, 'sat/temp', 'a state key is not a secret');
  log.child({ password: 'in-a-child' }).info('child context');
  assert.ok(!lines.join('').includes('in-a-child'), 'a child\'s context is redacted too');
});

test('odd values never throw: a cycle, a BigInt, undefined fields; a bad level is a coded error', () => {
  const { log, lines, parsed } = capture('info');
  const cyclic: Record<string, unknown> = { name: 'a' };
  cyclic.self = cyclic;
  log.info('odd', { cyclic, big: 2n ** 70n, gone: undefined });
  const o = parsed()[0] as Record<string, unknown>;
  assert.match(JSON.stringify(o.cyclic), /"\[Circular\]"/);
  assert.ok(lines[0]?.includes(`"big":${String(2n ** 70n)}`), 'a BigInt is written in full');
  assert.ok(!('gone' in o));
  assert.doesNotThrow(() => silentLogger.error('nothing', { cyclic }));
  assert.throws(() => assertLevel('verbose'), (e: unknown) => e instanceof HamsyncError && e.code === 'HAMSYNC_ERR_CONFIG' && /logLevel must be one of debug, info, warn, error, silent, got "verbose"/.test(e.message));
  assert.doesNotThrow(() => assertLevel('silent'));
});
