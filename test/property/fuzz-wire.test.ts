/**
 * Fuzzing the wire boundary (issue 6): the decoders of src/wire/codec.ts, the topic and key-filter
 * helpers of src/wire/topics.ts and the validator of src/model/update.ts, fed arbitrary bytes,
 * arbitrary JSON and almost-valid messages (the right shape with one field wrong). Every call
 * returns or throws a HamsyncError with a documented code, in bounded time; whatever passes
 * decodePut + checkBatch is within the limits and round-trips through encodePut.
 * Seeded: HAMSYNC_SEED=<n> reruns a failure.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ERROR_CODES, HamsyncError, type ErrorCode } from '../../src/errors.js';
import { canonical } from '../../src/ham/lexical.js';
import { MAX_STORABLE_KEY_BYTES } from '../../src/model/keys.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/model/limits.js';
import { checkBatch, checkUpdate, type CheckedUpdate } from '../../src/model/update.js';
import {
  DEFAULT_WIRE_LIMITS,
  decodePut,
  decodeSyncRequest,
  decodeSyncResponse,
  encodePut,
  encodeSyncRequest,
  encodeSyncResponse,
  parseObject,
  type DecodedUpdate,
  type WireLimits,
} from '../../src/wire/codec.js';
import { assertKeyFilter, compileKeyFilters, matchKey, parseTopic, topics } from '../../src/wire/topics.js';
import { seedFromEnv } from '../helpers/seed.js';

const SEED = seedFromEnv(0xf0221e);
const FILE = 'dist/test/property/fuzz-wire.test.js';
/** Per call; every input here takes milliseconds, so this only catches pathological slowness. */
const CALL_MS = 2000;
const DEVICE = 'dev-1';
const LIMITS: Limits = { ...DEFAULT_LIMITS };
/** What a key segment may not hold (docs/PROTOCOL.md "Topics"): wildcards, C0/C1 controls, Unicode non-characters. */
const BAD_KEY_CHAR = /[\p{Cc}\p{Noncharacter_Code_Point}+#]/u;
const UNBOUNDED: WireLimits = { maxPayloadBytes: Number.MAX_SAFE_INTEGER };

const DECODE_CODES: readonly ErrorCode[] = ['HAMSYNC_ERR_PAYLOAD', 'HAMSYNC_ERR_TOO_LARGE'];
const PUT_CODES: readonly ErrorCode[] = [...DECODE_CODES, 'HAMSYNC_ERR_TOPIC'];
const CHECK_CODES: readonly ErrorCode[] = [
  'HAMSYNC_ERR_BATCH',
  'HAMSYNC_ERR_UPDATE',
  'HAMSYNC_ERR_KEY',
  'HAMSYNC_ERR_STATE',
  'HAMSYNC_ERR_SOURCE',
  'HAMSYNC_ERR_VALUE',
  'HAMSYNC_ERR_VALUE_TOO_LARGE',
  // A present "g" that is not a well-formed signature.
  'HAMSYNC_ERR_SIGNATURE',
];

const protoNames = (): string => JSON.stringify([Object.prototype, Array.prototype, Function.prototype, String.prototype].map((p) => Object.getOwnPropertyNames(p).sort()));
const PROTO_BEFORE = protoNames();

// ---------------------------------------------------------------------------------------------
// The boundary and what an accepted update must be

type Outcome<T> = { ok: true; value: T } | { ok: false; code: ErrorCode };

/** Runs `fn`: it must return, or throw a HamsyncError with one of `allowed` (documented) codes, within CALL_MS. */
function attempt<T>(label: string, allowed: readonly ErrorCode[], fn: () => T): Outcome<T> {
  const start = performance.now();
  let out: Outcome<T>;
  try {
    out = { ok: true, value: fn() };
  } catch (err) {
    if (!(err instanceof HamsyncError)) {
      assert.fail(`${label} threw past the boundary: ${err instanceof Error ? `${err.name}: ${err.message.slice(0, 200)}` : String(err)}`);
    }
    assert.ok(Object.hasOwn(ERROR_CODES, err.code), `${label}: undocumented code ${err.code}`);
    assert.ok(allowed.includes(err.code), `${label}: ${err.code} is not a code it may throw (${err.message.slice(0, 200)})`);
    assert.ok(err.message.startsWith(`${err.code}: `), `${label}: message should start with its code: ${err.message.slice(0, 200)}`);
    out = { ok: false, code: err.code };
  }
  const ms = performance.now() - start;
  assert.ok(ms < CALL_MS, `${label} took ${ms.toFixed(0)} ms`);
  return out;
}

/** Equal as JSON: same keys (any order), `===` leaves (so -0 equals 0, as JSON text cannot tell them apart). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function depth(v: unknown, d = 0): number {
  if (typeof v !== 'object' || v === null || d > 70) return d;
  return Math.max(d + 1, ...Object.values(v).map((x) => depth(x, d + 1)));
}

/** An accepted update, checked against the limits independently of src/model/keys.ts. */
function assertWithinLimits(c: CheckedUpdate, limits: Limits, label: string): void {
  assert.equal(typeof c.key, 'string', label);
  const keyBytes = Buffer.byteLength(c.key);
  assert.ok(keyBytes >= 1 && keyBytes <= Math.min(limits.maxKeyBytes, MAX_STORABLE_KEY_BYTES), `${label}: key of ${keyBytes} bytes`);
  const segments = c.key.split('/');
  assert.ok(segments.length <= limits.maxKeyDepth, `${label}: key of ${segments.length} segments`);
  assert.ok(segments.every((s) => s.length > 0 && s !== '.' && s !== '..' && !BAD_KEY_CHAR.test(s)), `${label}: bad key ${JSON.stringify(c.key)}`);
  assert.ok(c.key.isWellFormed(), `${label}: key with a lone surrogate`);
  assert.ok(typeof c.state === 'number' && Number.isFinite(c.state) && c.state > 0, `${label}: state ${c.state}`);
  assert.match(c.source, /^[A-Za-z0-9_-]{1,64}$/, label);
  assert.ok(Buffer.byteLength(c.text) <= limits.maxValueBytes, `${label}: value of ${Buffer.byteLength(c.text)} bytes`);
  const value: unknown = JSON.parse(c.text);
  assert.equal(canonical(value), c.text, `${label}: text is not canonical`);
  assert.ok(depth(value) <= 64, `${label}: value nests ${depth(value)} deep`);
}

/** Accepted updates are exactly the decoded ones (normalised), within limits. */
function assertAccepted(decoded: readonly DecodedUpdate[], checked: readonly CheckedUpdate[], label: string): void {
  assert.ok(checked.length === decoded.length && checked.length <= LIMITS.maxBatch, `${label}: ${checked.length} of ${decoded.length}`);
  checked.forEach((c, i) => {
    const d = decoded[i] as DecodedUpdate;
    assertWithinLimits(c, LIMITS, `${label} update ${i}`);
    assert.ok(c.key === d.key && c.state === d.state && c.source === d.source, `${label} update ${i}: fields changed`);
    assert.ok(sameJson(JSON.parse(c.text), d.value), `${label} update ${i}: value changed`);
  });
}

const wireOf = (checked: readonly CheckedUpdate[]) => checked.map((c) => ({ key: c.key, state: c.state, text: c.text, source: c.source, sig: c.sig }));

/** decodePut + checkBatch as the hub does; checks whatever passes and its round trip. */
function ingestPut(payload: Buffer | string, device = DEVICE, wire = DEFAULT_WIRE_LIMITS): ErrorCode | 'ok' {
  const decoded = attempt('decodePut', PUT_CODES, () => decodePut(payload, device, wire));
  if (!decoded.ok) return decoded.code;
  assert.ok(byteSize(payload) <= wire.maxPayloadBytes, 'decodePut accepted a payload over the limit');
  assert.ok(decoded.value.source === device && decoded.value.updates.every((u) => u.source === device), 'decodePut: source is the topic device');
  const checked = attempt('checkBatch(put)', CHECK_CODES, () => checkBatch(decoded.value.updates, LIMITS));
  if (!checked.ok) return checked.code;
  assertAccepted(decoded.value.updates, checked.value, 'put');
  const again = checkBatch(decodePut(encodePut(device, wireOf(checked.value)), device, UNBOUNDED).updates, LIMITS);
  assert.deepEqual(again, checked.value, 'encodePut -> decodePut round trip');
  return 'ok';
}

function ingestSyncResponse(payload: Buffer | string, wire = DEFAULT_WIRE_LIMITS): { code: ErrorCode | 'ok'; done?: boolean; id?: string } {
  const decoded = attempt('decodeSyncResponse', DECODE_CODES, () => decodeSyncResponse(payload, wire));
  if (!decoded.ok) return { code: decoded.code };
  const { id, done, updates } = decoded.value;
  assert.ok(typeof id === 'string' && typeof done === 'boolean', 'decodeSyncResponse: id and done');
  const checked = attempt('checkBatch(sync response)', CHECK_CODES, () => checkBatch(updates, LIMITS));
  if (!checked.ok) return { code: checked.code };
  assertAccepted(updates, checked.value, 'sync response');
  const back = decodeSyncResponse(encodeSyncResponse(id, wireOf(checked.value), done), UNBOUNDED);
  assert.ok(back.id === id && back.done === done, 'sync response round trip: id, done');
  assert.deepEqual(checkBatch(back.updates, LIMITS), checked.value, 'sync response round trip: updates');
  return { code: 'ok', done, id };
}

function ingestSyncRequest(payload: Buffer | string, wire = DEFAULT_WIRE_LIMITS): ErrorCode | 'ok' {
  const decoded = attempt('decodeSyncRequest', DECODE_CODES, () => decodeSyncRequest(payload, wire));
  if (!decoded.ok) return decoded.code;
  const { id, filters } = decoded.value;
  assert.ok(typeof id === 'string' && id.length <= 128, 'sync request id');
  assert.ok(Array.isArray(filters) && filters.length <= 64 && filters.every((f) => typeof f === 'string'), 'sync request filters');
  assert.deepEqual(decodeSyncRequest(encodeSyncRequest(id, filters), UNBOUNDED), { id, filters }, 'sync request round trip');
  // What the hub does with them: match keys (must not throw whatever the filters are).
  attempt('matchKey(request filters)', [], () => filters.some((f) => matchKey(f, 'a/b')));
  return 'ok';
}

const byteSize = (p: Buffer | string): number => (typeof p === 'string' ? Buffer.byteLength(p) : p.length);
const utf8 = new TextDecoder('utf-8', { fatal: true });
function isUtf8(b: Buffer): boolean {
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

async function check<T>(name: string, property: fc.IRawProperty<T>, numRuns: number): Promise<void> {
  try {
    await fc.assert(property, { seed: SEED, numRuns, includeErrorInReport: true });
  } catch (err) {
    console.error(`${name}: failed with seed ${SEED} (rerun: HAMSYNC_SEED=${SEED} node --test ${FILE})`);
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

/** Any UTF-16 code unit, lone surrogates included. */
const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c));
const EXOTIC = ['pi-7', 'cpu', 'temp', 'a', 'é', '日本', '😀', '__proto__', 'constructor', 'prototype', 'toString', ' ', '\u00a0', '\u2028', '\u2029', '\u200b', '\ufeff', '\ufffd', '.*', '(a)', '[x]', '\\', '$^|?{}', '...', '.x', 'x..', 'x'.repeat(40)];
const segmentArb = fc.oneof(
  fc.constantFrom(...EXOTIC),
  fc
    .string({ unit: 'binary', minLength: 1, maxLength: 6 })
    .map((s) => s.replace(new RegExp(BAD_KEY_CHAR, 'gu'), '_').replace(/\//g, '_'))
    .map((s) => (s === '.' || s === '..' ? `${s}_` : s)),
);
const keyArb = fc
  .array(segmentArb, { minLength: 1, maxLength: 5 })
  .map((s) => s.join('/'))
  .filter((k) => Buffer.byteLength(k) <= LIMITS.maxKeyBytes);
const sourceArb = fc.constantFrom('dev-1', 'dev-2', 'Z_9', 'a'.repeat(64));
const nest = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const valueTextArb = fc.oneof(
  { weight: 3, arbitrary: fc.json({ maxDepth: 3 }) },
  fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }).map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 2, stringUnit: anyUnit }).map((v) => JSON.stringify(v)),
  fc.constantFrom(
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '[{"__proto__":[]}]',
    '-0',
    '1e-400',
    '1E2',
    '1e21',
    '"\\ud800"',
    '"\\u0000\\u2028"',
    ' true ',
    nest(64),
  ),
);
/** Valid states: finite and greater than 0 (docs/PROTOCOL.md "put"). */
const stateTextArb = fc.oneof(
  fc.integer({ min: 1 }).map(String),
  fc.double({ min: Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
  fc.constantFrom('5e-324', '1e-300', '1e308', '123456789012345678901234567890', '0.1e1', '1795629525462.0009'),
);

type Field = [name: string, raw: string];
interface Draft {
  device: string;
  top: Field[];
  items: Field[][];
  /** Raw "u": undefined = built from items, null = absent. */
  u: string | null | undefined;
  /** Wraps the rendered JSON text (BOM, whitespace, trailing bytes). */
  wrap: (text: string) => Buffer | string;
}
const obj = (fields: readonly Field[]): string => `{${fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
function render(d: Draft): Buffer | string {
  const u = d.u === undefined ? `[${d.items.map(obj).join(',')}]` : d.u;
  return d.wrap(obj(u === null ? d.top : [...d.top, ['u', u]]));
}
/** Sets (or, with null, removes) a field; a field not there is appended. */
function setField(fields: Field[], name: string, raw: string | null): void {
  const i = fields.findIndex(([k]) => k === name);
  if (raw === null) {
    for (let j = fields.length - 1; j >= 0; j--) if ((fields[j] as Field)[0] === name) fields.splice(j, 1);
  } else if (i >= 0) fields[i] = [name, raw];
  else fields.push([name, raw]);
}

interface Mutation {
  name: string;
  /** The error the whole pipeline must end with, or 'ok'. */
  code: ErrorCode | 'ok';
  apply: (d: Draft, item: number) => void;
}
const q = JSON.stringify;
const onItem = (field: string, raw: string | null, code: ErrorCode | 'ok'): Mutation => ({
  name: `${field}=${raw === null ? '(absent)' : raw.slice(0, 40)}`,
  code,
  apply: (d, i) => setField(d.items[i % d.items.length] as Field[], field, raw),
});
const onTop = (field: string, raw: string | null, code: ErrorCode | 'ok'): Mutation => ({
  name: `top ${field}=${raw === null ? '(absent)' : raw.slice(0, 40)}`,
  code,
  apply: (d) => (field === 'u' ? (d.u = raw) : setField(d.top, field, raw)),
});
const replaceItem = (raw: string, code: ErrorCode | 'ok'): Mutation => ({
  name: `item=${raw}`,
  code,
  apply: (d, i) => void (d.u = `[${d.items.map((f, j) => (j === i % d.items.length ? raw : obj(f))).join(',')}]`),
});
const duplicate = (field: string, first: string, second: string, code: ErrorCode | 'ok'): Mutation => ({
  name: `duplicate ${field}: ${first.slice(0, 20)}, ${second.slice(0, 20)}`,
  code,
  apply: (d, i) => {
    const f = d.items[i % d.items.length] as Field[];
    setField(f, field, null);
    f.push([field, first], [field, second]);
  },
});
const wrapped = (name: string, code: ErrorCode | 'ok', wrap: (text: string) => Buffer | string): Mutation => ({ name, code, apply: (d) => void (d.wrap = wrap) });

const depth17 = Array.from({ length: 17 }, () => 'a').join('/');
const ITEM_MUTATIONS: Mutation[] = [
  ...['', 'a//b', '/a', 'a/', '+', '#', 'a/+/b', 'a/#', 'a\u0000b', 'a\u007fb', 'a\u0085b', 'a\u009f', '\ufffe', 'x\uffff', '\ufdd0', 'a/\u{10ffff}', 'a\nb', '\ud800', 'a\udc00b', 'x'.repeat(257), '日'.repeat(86), depth17, '.', '..', 'a/./b', 'a/..', '../etc/passwd', 'a/../../b'].map((k) => onItem('k', q(k), 'HAMSYNC_ERR_KEY')),
  ...['1', 'null', 'true', '[]', '{}', '["a"]', '-0'].map((raw) => onItem('k', raw, 'HAMSYNC_ERR_KEY')),
  onItem('k', null, 'HAMSYNC_ERR_KEY'),
  ...['x'.repeat(256), '日'.repeat(85), depth17.slice(2), '__proto__', 'constructor/prototype', '\u2028/\ufeff', '\u00a0/\ufdf0/\u{10fffd}', '...', '.a/b.', 'a/..b/c..', '. /x'].map((k) => onItem('k', q(k), 'ok')),
  ...['"1"', '"NaN"', '"Infinity"', '"-0"', 'null', 'true', '[]', '{}', '[1]', '1e400', '-1e400', `1${'0'.repeat(400)}`].map((raw) => onItem('s', raw, 'HAMSYNC_ERR_STATE')),
  onItem('s', null, 'HAMSYNC_ERR_STATE'),
  // States must be greater than 0: zero (also -0 and an underflow to 0), negative states are refused.
  ...['0', '-0', '0.0', '1e-400', '-1e308', '-5', '-0.000001', '-5e-324'].map((raw) => onItem('s', raw, 'HAMSYNC_ERR_STATE')),
  ...['123456789012345678901234567890', '0.000001', '5e-324', '1'].map((raw) => onItem('s', raw, 'ok')),
  ...['NaN', 'Infinity', '-Infinity', 'undefined', '01', '+1', '.5', '0x10', "'a'"].map((raw) => onItem('s', raw, 'HAMSYNC_ERR_PAYLOAD')),
  onItem('v', null, 'HAMSYNC_ERR_PAYLOAD'),
  ...['1e400', '[1,-1e400]', '{"a":{"b":1e999}}', `1${'0'.repeat(400)}`, nest(65), `${'{"a":'.repeat(65)}1${'}'.repeat(65)}`].map((raw) => onItem('v', raw, 'HAMSYNC_ERR_VALUE')),
  ...[q('x'.repeat(65535)), q('日'.repeat(21845)), q('\u0001'.repeat(10923))].map((raw) => onItem('v', raw, 'HAMSYNC_ERR_VALUE_TOO_LARGE')),
  ...[q('x'.repeat(65534)), q('日'.repeat(21844)), q('\n'.repeat(32767)), nest(64), '{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}'].map((raw) => onItem('v', raw, 'ok')),
  ...['1', 'null', '"x"', '[]', '[{"k":"a","v":1,"s":1}]', '{}', '{"k":"a","s":1}'].map((raw) => replaceItem(raw, 'HAMSYNC_ERR_PAYLOAD')),
  replaceItem('{"v":1}', 'HAMSYNC_ERR_KEY'),
  // A member twice in one object is refused whatever the values (JSON.parse would keep the last, others the first).
  duplicate('k', q('a//b'), q('ok/key'), 'HAMSYNC_ERR_PAYLOAD'),
  duplicate('k', q('ok/key'), q('a//b'), 'HAMSYNC_ERR_PAYLOAD'),
  duplicate('s', '"x"', '7', 'HAMSYNC_ERR_PAYLOAD'),
  duplicate('s', '7', '1e400', 'HAMSYNC_ERR_PAYLOAD'),
  duplicate('v', '1e400', '1', 'HAMSYNC_ERR_PAYLOAD'),
  duplicate('k', q('ok/key'), q('ok/key'), 'HAMSYNC_ERR_PAYLOAD'),
  onItem('v', '{"a":1,"a":2}', 'HAMSYNC_ERR_PAYLOAD'),
  onItem('v', '[{"a":1,"\\u0061":2}]', 'HAMSYNC_ERR_PAYLOAD'),
  onItem('v', '{"a":{"a":1},"b":[{"a":1},{"a":2}]}', 'ok'),
  onItem('__proto__', '{"k":"a","v":1,"s":1}', 'ok'),
  wrapped('whitespace around', 'ok', (t) => ` \n\t${t}\r\n `),
  wrapped('BOM first', 'HAMSYNC_ERR_PAYLOAD', (t) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(t)])),
  wrapped('NUL after', 'HAMSYNC_ERR_PAYLOAD', (t) => `${t}\u0000`),
  wrapped('trailing garbage', 'HAMSYNC_ERR_PAYLOAD', (t) => `${t},`),
  wrapped('two objects', 'HAMSYNC_ERR_PAYLOAD', (t) => `${t}${t}`),
  wrapped('invalid UTF-8 inside', 'HAMSYNC_ERR_PAYLOAD', (t) => Buffer.concat([Buffer.from(t.slice(0, -1)), Buffer.from([0x20, 0xff, 0x20]), Buffer.from(t.slice(-1))])),
  wrapped('cut short', 'HAMSYNC_ERR_PAYLOAD', (t) => t.slice(0, -1)),
  wrapped('as a string', 'ok', (t) => t),
];
const PUT_MUTATIONS: Mutation[] = [
  ...ITEM_MUTATIONS,
  ...[null, '"dev-2"', '"DEV-1"', '1', 'null', '["dev-1"]'].map((raw) => onTop('src', raw, 'HAMSYNC_ERR_TOPIC')),
  { name: 'src only through __proto__', code: 'HAMSYNC_ERR_TOPIC', apply: (d) => (setField(d.top, 'src', null), d.top.push(['__proto__', '{"src":"dev-1"}'])) },
  { name: 'src twice, the right one last', code: 'HAMSYNC_ERR_PAYLOAD', apply: (d) => d.top.unshift(['src', '"evil"']) },
  { name: 'src twice, the right one first', code: 'HAMSYNC_ERR_PAYLOAD', apply: (d) => d.top.push(['src', '"evil"']) },
  onTop('__proto__', '{"polluted":"yes"}', 'ok'),
  onTop('constructor', '{"prototype":{"polluted":"yes"}}', 'ok'),
  ...[null, '[]', '{}', '"x"', 'null', '1', '{"0":{"k":"a","v":1,"s":1},"length":1}'].map((raw) => onTop('u', raw, 'HAMSYNC_ERR_PAYLOAD')),
  onTop('u', `[${Array.from({ length: LIMITS.maxBatch + 1 }, () => '{"k":"a","v":0,"s":1}').join(',')}]`, 'HAMSYNC_ERR_BATCH'),
  onTop('u', `[${Array.from({ length: LIMITS.maxBatch }, () => '{"k":"a","v":0,"s":1}').join(',')}]`, 'ok'),
  ...['bad id!', 'x'.repeat(65), '', 'dév'].map((device): Mutation => ({ name: `device ${device}`, code: 'HAMSYNC_ERR_SOURCE', apply: (d) => ((d.device = device), setField(d.top, 'src', q(device))) })),
  { name: 'no mutation', code: 'ok', apply: () => undefined },
];

const itemArb = fc
  .record({ k: keyArb, v: valueTextArb, s: stateTextArb, reverse: fc.boolean(), src: sourceArb })
  .map(({ k, v, s, reverse, src }) => ({ fields: (reverse ? [['s', s], ['v', v], ['k', q(k)]] : [['k', q(k)], ['v', v], ['s', s]]) as Field[], src }));

/** A valid put message with one mutation applied, and the outcome that mutation must have. */
const putDraftArb = fc
  .record({ items: fc.array(itemArb, { minLength: 1, maxLength: 5 }), mutation: fc.constantFrom(...PUT_MUTATIONS), at: fc.nat(), extra: fc.boolean() })
  .map(({ items, mutation, at, extra }) => {
    const d: Draft = { device: DEVICE, top: [['src', q(DEVICE)]], items: items.map((i) => [...i.fields]), u: undefined, wrap: (t) => Buffer.from(t) };
    if (extra) d.top.push(['pv', '1'], ['x', '{"y":[1,2]}']);
    mutation.apply(d, at);
    return { d, mutation };
  });

const SYNC_RES_MUTATIONS: Mutation[] = [
  ...ITEM_MUTATIONS,
  ...[null, '"bad id"', '1', '""', q('x'.repeat(65))].map((raw) => onItem('src', raw, 'HAMSYNC_ERR_SOURCE')),
  ...[null, '1', 'null', '["x"]'].map((raw) => onTop('id', raw, 'HAMSYNC_ERR_PAYLOAD')),
  ...[null, '{}', '"x"', 'null'].map((raw) => onTop('u', raw, 'HAMSYNC_ERR_PAYLOAD')),
  onTop('u', '[]', 'ok'),
  ...[null, 'false', 'true', '"true"', '1', 'null'].map((raw) => onTop('done', raw, 'ok')),
  onTop('__proto__', '{"id":"x","u":[],"done":true}', 'ok'),
  { name: 'no mutation', code: 'ok', apply: () => undefined },
];
const syncResDraftArb = fc
  .record({ items: fc.array(itemArb, { minLength: 1, maxLength: 5 }), id: fc.string({ unit: anyUnit, maxLength: 20 }), mutation: fc.constantFrom(...SYNC_RES_MUTATIONS), at: fc.nat() })
  .map(({ items, id, mutation, at }) => {
    const d: Draft = {
      device: DEVICE,
      top: [['pv', '1'], ['id', q(id)], ['done', 'false']],
      items: items.map((i) => [...i.fields, ['src', q(i.src)]]),
      u: undefined,
      wrap: (t) => Buffer.from(t),
    };
    mutation.apply(d, at);
    return { d, mutation };
  });

const SYNC_REQ_CASES: [string, ErrorCode | 'ok'][] = [
  ['{"pv":1,"id":"r1","f":["#"]}', 'ok'],
  ['{"id":"r1"}', 'ok'],
  ['{"id":"r1","f":null}', 'ok'],
  ['{"id":"r1","f":[]}', 'ok'],
  [`{"id":${q('x'.repeat(128))},"f":["a/+","a//b","#/x","\\ud800"]}`, 'ok'],
  [`{"id":"r1","f":${q(Array.from({ length: 64 }, (_, i) => `k${i}/#`))}}`, 'ok'],
  ['{"id":"r1","f":["a"],"__proto__":{"f":[1]}}', 'ok'],
  [`{"id":${q('x'.repeat(129))}}`, 'HAMSYNC_ERR_PAYLOAD'],
  [`{"id":"r1","f":${q(Array.from({ length: 65 }, () => '#'))}}`, 'HAMSYNC_ERR_PAYLOAD'],
  ['{"id":"r1","f":"#"}', 'HAMSYNC_ERR_PAYLOAD'],
  ['{"id":"r1","f":["#",1]}', 'HAMSYNC_ERR_PAYLOAD'],
  ['{"id":"r1","f":{"0":"#"}}', 'HAMSYNC_ERR_PAYLOAD'],
  ['{"id":1}', 'HAMSYNC_ERR_PAYLOAD'],
  ['{"f":["#"]}', 'HAMSYNC_ERR_PAYLOAD'],
  ['["r1"]', 'HAMSYNC_ERR_PAYLOAD'],
];

/** Bytes: random, random text (lone surrogates too), mutated valid payloads, deep nesting, BOMs and NULs. */
const INTERESTING_BYTES = [0x00, 0xff, 0xfe, 0xc0, 0xc3, 0xed, 0xa0, 0x80, 0xef, 0xbb, 0xbf, 0xf4, 0x90, 0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c];
const editArb = fc.tuple(fc.nat(), fc.constantFrom('insert', 'overwrite', 'delete'), fc.constantFrom(...INTERESTING_BYTES));
const mutatedPayloadArb = fc.tuple(putDraftArb, fc.array(editArb, { minLength: 1, maxLength: 4 })).map(([{ d }, edits]) => {
  const bytes = [...Buffer.from(render(d))];
  for (const [at, op, byte] of edits) {
    const i = at % (bytes.length + 1);
    if (op === 'insert') bytes.splice(i, 0, byte);
    else if (op === 'overwrite') bytes[Math.min(i, bytes.length - 1)] = byte;
    else bytes.splice(i, 1);
  }
  return Buffer.from(bytes);
});
/** Deep nesting: `[[[[…` (balanced or not) alone, as a put's value, a catch-up value, a request's filters; `{"a":{"a":…`. */
const deepArb = fc
  .record({
    n: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(100_000), fc.integer({ min: 50_000, max: 130_000 })),
    at: fc.constantFrom<[string, string]>(['', ''], ['{"src":"dev-1","u":[{"k":"a","s":1,"v":', '}]}'], ['{"id":"x","u":[{"k":"a","s":1,"src":"dev-1","v":', '}]}'], ['{"id":"x","f":', '}'], ['{"a":', '}']),
    closed: fc.boolean(),
  })
  .map(({ n, at: [open, close], closed }) => {
    if (open === '{"a":') return `${open.repeat(n)}1${closed ? close.repeat(n) : ''}`;
    return `${open}${'['.repeat(n)}${closed ? `${']'.repeat(n)}${close}` : ''}`;
  });
const bytesArb: fc.Arbitrary<Buffer | string> = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: anyUnit, maxLength: 100 }),
  fc.string({ unit: anyUnit, maxLength: 100 }).map((s) => `{"src":"dev-1","u":[{"k":${q(s)},"v":${q(s)},"s":1}]}`),
  { weight: 3, arbitrary: mutatedPayloadArb },
  deepArb,
  deepArb.map((s) => Buffer.from(s)),
  putDraftArb.map(({ d }) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(render(d))])),
  putDraftArb.map(({ d }) => Buffer.from(render(d)).toString('latin1')),
);

/** What JSON.parse might produce, for the validator called directly (library users). */
const anythingArb = fc.anything({
  maxDepth: 3,
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withTypedArray: true,
  withSparseArray: true,
  stringUnit: anyUnit,
});
const libraryUpdateArb = fc.oneof(
  // Mostly valid fields, all present: often accepted, so what passes gets checked.
  fc.record({
    key: fc.oneof({ weight: 4, arbitrary: keyArb }, fc.string({ unit: anyUnit, maxLength: 20 }), anythingArb),
    value: fc.oneof({ weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) }, anythingArb),
    state: fc.oneof({ weight: 4, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) }, fc.double(), anythingArb),
    source: fc.oneof({ weight: 4, arbitrary: sourceArb }, fc.string({ maxLength: 70 }), anythingArb),
  }),
  fc.record({ key: anythingArb, value: anythingArb, state: anythingArb, source: anythingArb }, { requiredKeys: [] }),
);

// ---------------------------------------------------------------------------------------------
// Properties

test(`arbitrary bytes: every decoder returns or throws a coded error; only UTF-8 under the limit passes (seed ${SEED})`, { timeout: 60_000 }, async () => {
  const seen = { ok: 0, tooLarge: 0, deep: 0 };
  await check(
    'bytes',
    fc.property(bytesArb, fc.option(fc.integer({ min: 0, max: 400 }), { freq: 4 }), (payload, max) => {
      const wire: WireLimits = max === null ? DEFAULT_WIRE_LIMITS : { maxPayloadBytes: max };
      const size = byteSize(payload);
      if (size > 200_000) seen.deep++;
      const codes = [ingestPut(payload, DEVICE, wire), ingestSyncResponse(payload, wire).code, ingestSyncRequest(payload, wire)];
      const parsed = attempt('parseObject', DECODE_CODES, () => parseObject(payload, wire, 'fuzz'));
      assert.ok(parsed.ok || codes.every((c) => c === parsed.code), `parseObject said ${parsed.ok ? 'ok' : parsed.code}, the decoders ${codes.join(', ')}`);
      if (size > wire.maxPayloadBytes) {
        assert.deepEqual(codes, ['HAMSYNC_ERR_TOO_LARGE', 'HAMSYNC_ERR_TOO_LARGE', 'HAMSYNC_ERR_TOO_LARGE'], 'over the limit: refused before parsing');
        seen.tooLarge++;
      } else if (typeof payload !== 'string' && !isUtf8(payload)) {
        assert.deepEqual(codes, ['HAMSYNC_ERR_PAYLOAD', 'HAMSYNC_ERR_PAYLOAD', 'HAMSYNC_ERR_PAYLOAD'], 'invalid UTF-8 is refused');
      }
      if (codes[0] === 'ok') seen.ok++;
    }),
    400,
  );
  assert.ok(seen.ok > 0 && seen.tooLarge > 0 && seen.deep > 0, `the generator reaches accepted, too large and deep payloads: ${JSON.stringify(seen)}`);
});

test(`arbitrary JSON: decoders and the validator return or throw a coded error (seed ${SEED})`, { timeout: 60_000 }, async () => {
  const jsonArb = fc.oneof(fc.jsonValue(), fc.jsonValue({ stringUnit: anyUnit, maxDepth: 4 }));
  await check(
    'json',
    fc.property(jsonArb, jsonArb, (a, b) => {
      const payloads = [a, { src: DEVICE, u: a }, { src: DEVICE, u: [a] }, { src: DEVICE, u: [{ k: 'a', v: a, s: b }] }, { id: 'x', u: [a], done: b }, { id: a, f: b }, { id: 'x', f: a }];
      for (const p of payloads) {
        const text = JSON.stringify(p);
        for (const payload of [text, Buffer.from(text)]) {
          ingestPut(payload);
          ingestSyncResponse(payload);
          ingestSyncRequest(payload);
        }
      }
      for (const input of [a, [a], [a, b], { key: a, value: b, state: 1, source: DEVICE }]) {
        const batch = attempt('checkBatch(json)', CHECK_CODES, () => checkBatch(input, LIMITS));
        if (batch.ok) batch.value.forEach((c, i) => assertWithinLimits(c, LIMITS, `checkBatch(json) ${i}`));
        const one = attempt('checkUpdate(json)', CHECK_CODES, () => checkUpdate(input, LIMITS));
        if (one.ok) assertWithinLimits(one.value, LIMITS, 'checkUpdate(json)');
      }
    }),
    300,
  );
});

test(`almost-valid put messages: one field wrong gives exactly its error, nothing else passes (seed ${SEED})`, { timeout: 60_000 }, async () => {
  const reached = new Set<string>();
  await check(
    'almost-valid put',
    fc.property(putDraftArb, ({ d, mutation }) => {
      reached.add(mutation.name);
      const payload = render(d);
      assert.equal(ingestPut(payload, d.device), mutation.code, `${mutation.name}: ${String(payload).slice(0, 300)}`);
    }),
    1000,
  );
  assert.ok(reached.size > PUT_MUTATIONS.length * 0.8, `reached ${reached.size} of ${PUT_MUTATIONS.length} mutations`);
});

test(`almost-valid catch-up answers and requests (seed ${SEED})`, { timeout: 60_000 }, async () => {
  await check(
    'almost-valid sync response',
    fc.property(syncResDraftArb, ({ d, mutation }) => {
      const payload = render(d);
      const out = ingestSyncResponse(payload);
      assert.equal(out.code, mutation.code, `${mutation.name}: ${String(payload).slice(0, 300)}`);
      if (out.code === 'ok') assert.equal(out.done, d.top.find(([k]) => k === 'done')?.[1] === 'true', `${mutation.name}: done`);
    }),
    500,
  );
  for (const [payload, code] of SYNC_REQ_CASES) {
    assert.equal(ingestSyncRequest(payload), code, payload.slice(0, 100));
    assert.equal(ingestSyncRequest(Buffer.from(payload)), code, payload.slice(0, 100));
  }
  await check(
    'sync request filters',
    fc.property(fc.string({ unit: anyUnit, maxLength: 140 }), fc.array(fc.oneof(fc.string({ unit: anyUnit, maxLength: 30 }), fc.jsonValue({ maxDepth: 1 })), { maxLength: 70 }), (id, f) => {
      const ok = id.length <= 128 && f.length <= 64 && f.every((x) => typeof x === 'string');
      assert.equal(ingestSyncRequest(JSON.stringify({ pv: 1, id, f })), ok ? 'ok' : 'HAMSYNC_ERR_PAYLOAD');
    }),
    300,
  );
});

test(`the validator on arbitrary values: coded errors only; what passes is within the limits (seed ${SEED})`, { timeout: 60_000 }, async () => {
  let accepted = 0;
  await check(
    'checkBatch(anything)',
    fc.property(fc.oneof(anythingArb, fc.array(libraryUpdateArb, { maxLength: 4 }), libraryUpdateArb), (input) => {
      const batch = attempt('checkBatch', CHECK_CODES, () => checkBatch(input, LIMITS));
      if (batch.ok) {
        accepted += batch.value.length;
        const n = (input as unknown[]).length;
        assert.ok(batch.value.length === n && Array.from({ length: n }, (_, i) => i in batch.value).every(Boolean), 'checkBatch accepted a batch with holes');
        batch.value.forEach((c, i) => {
          assertWithinLimits(c, LIMITS, `checkBatch ${i}`);
          const u = (input as Record<string, unknown>[])[i] as Record<string, unknown>;
          assert.ok(c.key === u.key && c.state === u.state && c.source === u.source && sameJson(JSON.parse(c.text), u.value), `checkBatch ${i}: fields changed`);
        });
      }
      const one = attempt('checkUpdate', CHECK_CODES, () => checkUpdate(input, LIMITS));
      if (one.ok) assertWithinLimits(one.value, LIMITS, 'checkUpdate');
    }),
    500,
  );
  assert.ok(accepted > 0, 'some arbitrary updates were valid');
});

test('the validator: cycles, 100k-deep values, exotic objects, a key over what LMDB can index', () => {
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const ring: unknown[] = [];
  ring.push(ring);
  let deepObj: unknown = 1;
  for (let i = 0; i < 100_000; i++) deepObj = { a: deepObj };
  let deepArr: unknown = [];
  for (let i = 0; i < 100_000; i++) deepArr = [deepArr];
  const sparse: unknown[] = [];
  sparse[1] = 1;
  const base = { key: 'a/b', state: 1, source: DEVICE };
  for (const value of [cyclic, ring, deepObj, deepArr, sparse, new Date(0), new Map(), 1n, Symbol('x'), () => 1, undefined, NaN, -Infinity, Object.create(Array.prototype), new (class X {})()]) {
    const out = attempt('checkUpdate(exotic value)', CHECK_CODES, () => checkUpdate({ ...base, value }, LIMITS));
    assert.ok(!out.ok && out.code === 'HAMSYNC_ERR_VALUE', `exotic value ${String(out.ok || out.code)}`);
  }
  // Regression: with a configured maxKeyBytes above what LMDB can index, a long key used to pass
  // here and then throw a RangeError from lmdb-js in the middle of writing a batch.
  const big: Limits = { ...LIMITS, maxKeyBytes: 1_000_000 };
  const at = (n: number) => attempt('checkUpdate(long key)', CHECK_CODES, () => checkUpdate({ ...base, key: 'k'.repeat(n), value: 1 }, big));
  assert.equal(at(MAX_STORABLE_KEY_BYTES).ok, true);
  assert.deepEqual(at(MAX_STORABLE_KEY_BYTES + 1), { ok: false, code: 'HAMSYNC_ERR_KEY' });
  assert.deepEqual(at(500_000), { ok: false, code: 'HAMSYNC_ERR_KEY' });
});

test('regression: invalid UTF-8 is refused, not decoded to U+FFFD', () => {
  const latin1 = Buffer.from('{"src":"dev-1","u":[{"k":"caf\u00e9","v":1,"s":1}]}', 'latin1');
  const cesu = Buffer.concat([Buffer.from('{"src":"dev-1","u":[{"k":"a","v":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","s":1}]}')]);
  const overlong = Buffer.concat([Buffer.from('{"src":"dev-1","u":[{"k":"a'), Buffer.from([0xc0, 0xaf]), Buffer.from('b","v":1,"s":1}]}')]);
  for (const payload of [latin1, cesu, overlong]) {
    assert.equal(ingestPut(payload), 'HAMSYNC_ERR_PAYLOAD');
    assert.equal(ingestSyncResponse(payload).code, 'HAMSYNC_ERR_PAYLOAD');
    assert.equal(ingestSyncRequest(payload), 'HAMSYNC_ERR_PAYLOAD');
  }
  assert.equal(ingestPut(Buffer.from('{"src":"dev-1","u":[{"k":"caf\u00e9/😀","v":"\u2028","s":1}]}')), 'ok');
});

// ---------------------------------------------------------------------------------------------
// Topics and key filters

const TOPIC_PARTS = ['hamsync', 'default', 'put', 'state', 'sync', 'req', 'res', 'presence', 'replay', '', '+', '#', '$SYS', 'dev-1'];
const topicArb = fc.oneof(
  fc.string({ unit: anyUnit, maxLength: 60 }),
  fc.array(fc.oneof(fc.constantFrom(...TOPIC_PARTS), segmentArb), { maxLength: 8 }).map((p) => p.join('/')),
  fc.array(fc.oneof(fc.constantFrom(...TOPIC_PARTS), segmentArb), { maxLength: 8 }).map((p) => `hamsync/${p.join('/')}`),
  fc
    .tuple(fc.constantFrom('default', '', '+', 'ns-2'), fc.constantFrom('put', 'state', 'sync/req', 'sync/res', 'sync/x', 'presence', 'replay', 'x'), fc.array(fc.oneof(segmentArb, fc.constant('')), { maxLength: 3 }))
    .map(([ns, kind, rest]) => [`hamsync/${ns}/${kind}`, ...rest].join('/')),
  fc.constantFrom(`hamsync/default/state/${Array.from({ length: 200 }, () => 'a').join('/')}`, `hamsync/default/put/${'x'.repeat(256 * 1024)}`, 'hamsync/', 'hamsync', 'hamsync//', 'hamsync/default'),
);

/** The topic back from its parts: parseTopic loses nothing. */
function rebuild(t: { kind: string; ns: string; rest: string }): string {
  switch (t.kind) {
    case 'put':
      return topics.put(t.ns, t.rest);
    case 'presence':
      return topics.presence(t.ns, t.rest);
    case 'state':
      return topics.state(t.ns, t.rest);
    case 'replay':
      return `hamsync/${t.ns}/replay/${t.rest}`;
    case 'sync-req':
      return topics.syncRequest(t.ns, t.rest);
    case 'sync-res':
      return topics.syncResponse(t.ns, t.rest);
    default:
      return `hamsync/${t.ns}/${t.rest}`;
  }
}

test(`parseTopic: never throws, classifies exactly the hamsync/ topics, loses nothing (seed ${SEED})`, { timeout: 60_000 }, async () => {
  const kinds = new Set<string>();
  await check(
    'parseTopic',
    fc.property(topicArb, (topic) => {
      const t = attempt('parseTopic', [], () => parseTopic(topic));
      assert.ok(t.ok);
      const parsed = t.value;
      assert.equal(parsed === undefined, !topic.startsWith('hamsync/'));
      if (parsed === undefined) return;
      kinds.add(parsed.kind);
      assert.equal(parsed.ns, topic.split('/')[1]);
      if (parsed.kind === 'put' || parsed.kind === 'presence' || parsed.kind.startsWith('sync')) assert.ok(!parsed.rest.includes('/'), 'a device id has one level');
      if (topic.split('/').length >= 3) assert.equal(rebuild(parsed), topic);
      else assert.equal(parsed.kind === 'other' && parsed.rest, '');
    }),
    1000,
  );
  assert.ok(kinds.size >= 6, `kinds reached: ${[...kinds].join(', ')}`);
});

const filterSegmentArb = fc.oneof({ weight: 3, arbitrary: segmentArb }, fc.constantFrom('+', '#', ''));
const filterArb = fc.array(filterSegmentArb, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));
/** Keys near a filter: `+` and `#` replaced by segments, sometimes cut or extended. */
const keyNearArb = (filter: string) =>
  fc.tuple(fc.array(segmentArb, { minLength: 3, maxLength: 3 }), fc.nat({ max: 2 }), fc.integer({ min: -1, max: 1 })).map(([segs, extra, cut]) => {
    const parts = filter.split('/').flatMap((p, i) => (p === '+' ? [segs[i % 3] as string] : p === '#' ? segs.slice(0, extra) : [p]));
    const out = cut < 0 ? parts.slice(0, -1) : cut > 0 ? [...parts, segs[0] as string] : parts;
    return out.join('/');
  });

test(`key filters: compileKeyFilters agrees with matchKey on valid filters and keys, neither throws on anything (seed ${SEED})`, { timeout: 60_000 }, async () => {
  let matched = 0;
  let compared = 0;
  await check(
    'key filters',
    fc.property(
      fc.array(filterArb, { minLength: 1, maxLength: 4 }).chain((filters) => fc.tuple(fc.constant(filters), fc.array(fc.oneof(keyArb, ...filters.map(keyNearArb)), { minLength: 1, maxLength: 8 }))),
      ([filters, keys]) => {
        const compiled = attempt('compileKeyFilters', [], () => compileKeyFilters(filters));
        assert.ok(compiled.ok);
        const valid = filters.filter((f) => attempt('assertKeyFilter', ['HAMSYNC_ERR_CONFIG'], () => assertKeyFilter(f)).ok);
        const strict = valid.length > 0 ? compileKeyFilters(valid) : undefined;
        for (const key of keys) {
          const viaCompiled = attempt('compiled filter', [], () => compiled.value(key));
          const viaMatch = attempt('matchKey', [], () => filters.some((f) => matchKey(f, key)));
          assert.ok(viaCompiled.ok && viaMatch.ok);
          if (!strict || !attempt('assertKey', ['HAMSYNC_ERR_KEY'], () => checkUpdate({ key, value: 1, state: 1, source: DEVICE }, LIMITS)).ok) continue;
          const expected = valid.some((f) => matchKey(f, key));
          assert.equal(strict(key), expected, `filters ${JSON.stringify(valid)} on key ${JSON.stringify(key)}`);
          compared++;
          if (expected) matched++;
        }
      },
    ),
    800,
  );
  assert.ok(compared > 500 && matched > 100, `compared ${compared}, matched ${matched}`);
  // Anything at all: strings with lone surrogates, huge ones, regex metacharacters.
  await check(
    'key filters (any strings)',
    fc.property(fc.array(fc.string({ unit: anyUnit, maxLength: 12 }), { maxLength: 5 }), fc.string({ unit: anyUnit, maxLength: 30 }), (filters, key) => {
      const compiled = attempt('compileKeyFilters', [], () => compileKeyFilters(filters));
      assert.ok(compiled.ok);
      attempt('compiled filter', [], () => compiled.value(key));
      for (const f of filters) attempt('matchKey', [], () => matchKey(f, key));
    }),
    300,
  );
  // Filters are checked (assertKeyFilter: at most 1024 characters) before they are compiled; keys may be huge.
  const huge = 'a/'.repeat(128 * 1024);
  for (const filter of [`${'a/'.repeat(511)}#`, `${'+/'.repeat(511)}#`, '+/'.repeat(511) + '+']) {
    assertKeyFilter(filter);
    attempt('compileKeyFilters(long filter)', [], () => compileKeyFilters([filter, 'b/+'])(huge));
    attempt('matchKey(long filter)', [], () => matchKey(filter, huge));
  }
});

test('regression: keys with C1 controls or Unicode non-characters are refused (Mosquitto drops a client over such a topic)', () => {
  for (const key of ['a/\u0085', '\u0080', 'a\u009fb', 'x/\ufffe', '\uffff', '\ufdd0/a', 'a\ufdef', '\u{1fffe}', 'z/\u{10ffff}']) {
    assert.equal(ingestPut(`{"src":"dev-1","u":[{"k":${q(key)},"v":1,"s":1}]}`), 'HAMSYNC_ERR_KEY', JSON.stringify(key));
  }
  for (const key of ['\u00a0', '\ufdcf', '\ufdf0', '\ufffd', '\u{1fffd}', '\u2028', 'é/😀']) {
    assert.equal(ingestPut(`{"src":"dev-1","u":[{"k":${q(key)},"v":1,"s":1}]}`), 'ok', JSON.stringify(key));
  }
});

test('regression: a "#" filter matches keys holding U+2028/U+2029, as matchKey does', () => {
  for (const key of ['a/b\u2028c', 'a/\u2029', 'a/x/\u2028']) {
    assert.equal(matchKey('a/#', key), true);
    assert.equal(compileKeyFilters(['a/#'])(key), true, JSON.stringify(key));
  }
  assert.equal(compileKeyFilters(['+/b'])('\u2028/b'), true);
  assert.equal(compileKeyFilters(['a/#'])('b/\u2028'), false);
});

test('no prototype was polluted by anything decoded or validated', () => {
  assert.equal(protoNames(), PROTO_BEFORE);
  const probe = {} as Record<string, unknown>;
  assert.equal(probe.polluted, undefined);
  assert.equal(([] as unknown as Record<string, unknown>).polluted, undefined);
});
