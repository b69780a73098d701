import { HamsyncError, describe } from '../errors.js';
import { DEFAULT_WIRE_LIMITS, parseObject, type DecodedUpdate, type WireLimits, type WireUpdate } from './codec.js';

/** Sync protocol v2 (docs/PROTOCOL.md "Sync v2"): hub announcement, sync request, pages, acks, errors. */
export const SYNC_V2 = 2;

const q = JSON.stringify;

/** A hub's retained announcement on `hamsync/<ns>/hub`: its identity and epoch. */
export interface HubAnnouncement {
  hub: string;
  epoch: number;
}

/** Where the requester stands in that hub's change log. */
export interface SyncAt {
  hub: string;
  epoch: number;
  pos: number;
}

export interface SyncRequestV2 {
  id: string;
  filters: string[];
  at?: SyncAt;
}

/** How a feed began: from the requester's position, or from a snapshot. */
export type FeedMode = 'resume' | 'snapshot';

/** One page of a feed (hub → device on `sync/res/<device>`). */
export interface SyncPage {
  id: string;
  /** Page number within this feed: 1, 2, 3, … (acknowledged by number). */
  n: number;
  hub: string;
  epoch: number;
  mode: FeedMode;
  /** True while the page belongs to the snapshot. */
  snap: boolean;
  /** The position the device may store once it stored this page; absent on snapshot pages before the last. */
  to?: number;
  /** The hub's head position when the page was sent. */
  head: number;
  /** The hub's clock when sent (the clock guard learns from it). */
  t?: number;
  updates: WireUpdate[];
  /** For each update: true when it is a deferred one (an arrival in, or a snapshot of, the hub's deferred queue). */
  deferred: boolean[];
}

export interface SyncPageDecoded extends Omit<SyncPage, 'updates' | 'deferred'> {
  updates: DecodedUpdate[];
}

export interface SyncError {
  id: string;
  code: string;
  message: string;
}

function isPos(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

function bad(what: string, detail: string): never {
  throw new HamsyncError('HAMSYNC_ERR_PAYLOAD', `${what} ${detail}`);
}

export function encodeHubAnnouncement(a: HubAnnouncement): string {
  return q({ pv: SYNC_V2, hub: a.hub, epoch: a.epoch });
}

export function decodeHubAnnouncement(payload: Buffer | string, limits: WireLimits = DEFAULT_WIRE_LIMITS): HubAnnouncement {
  const obj = parseObject(payload, limits, 'hub announcement');
  if (obj.pv !== SYNC_V2) bad('hub announcement', `has protocol version ${describe(obj.pv)}, expected ${SYNC_V2}`);
  if (typeof obj.hub !== 'string' || obj.hub.length === 0 || obj.hub.length > 64) bad('hub announcement', `needs a "hub" id of 1-64 characters, got ${describe(obj.hub)}`);
  if (!isPos(obj.epoch) || obj.epoch === 0) bad('hub announcement', `needs a positive integer "epoch", got ${describe(obj.epoch)}`);
  return { hub: obj.hub as string, epoch: obj.epoch as number };
}

export function encodeSyncRequestV2(r: SyncRequestV2): string {
  return q(r.at ? { pv: SYNC_V2, id: r.id, f: r.filters, at: r.at } : { pv: SYNC_V2, id: r.id, f: r.filters });
}

/** The protocol version a sync request speaks (1 when it has no `pv` 2). */
export function syncRequestVersion(payload: Buffer | string, limits: WireLimits = DEFAULT_WIRE_LIMITS): { version: number; id: string | undefined } {
  const obj = parseObject(payload, limits, 'sync request');
  return { version: obj.pv === SYNC_V2 ? SYNC_V2 : 1, id: typeof obj.id === 'string' && obj.id.length <= 128 ? obj.id : undefined };
}

export function decodeSyncRequestV2(payload: Buffer | string, limits: WireLimits = DEFAULT_WIRE_LIMITS): SyncRequestV2 {
  const obj = parseObject(payload, limits, 'sync request');
  if (obj.pv !== SYNC_V2) bad('sync request', `has protocol version ${describe(obj.pv)}, expected ${SYNC_V2}`);
  if (typeof obj.id !== 'string' || obj.id.length === 0 || obj.id.length > 128) bad('sync request', 'needs a string "id" of 1-128 characters');
  const f = obj.f ?? ['#'];
  if (!Array.isArray(f) || f.length === 0 || f.length > 64 || !f.every((x) => typeof x === 'string')) bad('sync request', '"f" must be an array of 1-64 key filters');
  const r: SyncRequestV2 = { id: obj.id as string, filters: f as string[] };
  if (obj.at !== undefined) {
    const at = obj.at as Record<string, unknown> | null;
    if (typeof at !== 'object' || at === null || typeof at.hub !== 'string' || at.hub.length > 64 || !isPos(at.epoch) || !isPos(at.pos)) {
      bad('sync request', `"at" must be {"hub","epoch","pos"}, got ${describe(obj.at)}`);
    }
    r.at = { hub: at.hub as string, epoch: at.epoch as number, pos: at.pos as number };
  }
  return r;
}

export function encodeSyncPage(p: SyncPage): string {
  const u = p.updates
    .map((x, i) => `{"k":${q(x.key)},"v":${x.text},"s":${q(x.state)},"src":${q(x.source ?? '')}${x.sig === undefined ? '' : `,"g":${q(x.sig)}`}${p.deferred[i] ? ',"d":1' : ''}}`)
    .join(',');
  const to = p.to === undefined ? '' : `,"to":${p.to}`;
  const t = p.t === undefined || !Number.isFinite(p.t) ? '' : `,"t":${q(p.t)}`;
  return `{"pv":${SYNC_V2},"id":${q(p.id)},"n":${p.n},"hub":${q(p.hub)},"epoch":${p.epoch},"mode":${q(p.mode)}${p.snap ? ',"snap":true' : ''}${to},"head":${p.head}${t},"u":[${u}]}`;
}

export function encodeSyncError(e: SyncError): string {
  return q({ pv: SYNC_V2, id: e.id, err: { code: e.code, message: e.message } });
}

/** A message on `sync/res/<device>`: a page, or an error answering a request. */
export function decodeSyncResponseV2(payload: Buffer | string, limits: WireLimits = DEFAULT_WIRE_LIMITS): { page: SyncPageDecoded } | { error: SyncError } {
  const obj = parseObject(payload, limits, 'sync page');
  if (obj.pv !== SYNC_V2) bad('sync page', `has protocol version ${describe(obj.pv)}, expected ${SYNC_V2}`);
  if (typeof obj.id !== 'string') bad('sync page', 'has no string "id"');
  if (obj.err !== undefined) {
    const e = obj.err as Record<string, unknown> | null;
    return { error: { id: obj.id as string, code: typeof e?.code === 'string' ? e.code : 'unknown', message: typeof e?.message === 'string' ? e.message.slice(0, 500) : '' } };
  }
  if (!isPos(obj.n) || obj.n === 0) bad('sync page', `needs a positive page number "n", got ${describe(obj.n)}`);
  if (typeof obj.hub !== 'string' || !isPos(obj.epoch) || !isPos(obj.head)) bad('sync page', 'needs "hub", "epoch" and "head"');
  if (obj.mode !== 'resume' && obj.mode !== 'snapshot') bad('sync page', `"mode" must be "resume" or "snapshot", got ${describe(obj.mode)}`);
  if (obj.to !== undefined && !isPos(obj.to)) bad('sync page', `"to" must be a position, got ${describe(obj.to)}`);
  if (!Array.isArray(obj.u)) bad('sync page', 'needs an array "u"');
  const updates = (obj.u as unknown[]).map((x, i): DecodedUpdate => {
    if (typeof x !== 'object' || x === null || Array.isArray(x) || !('v' in x)) bad('sync page', `update ${i} must be an object with "k", "v", "s" and "src"`);
    const o = x as Record<string, unknown>;
    const d: DecodedUpdate = { key: o.k, value: o.v as DecodedUpdate['value'], state: o.s, source: o.src };
    if (Object.hasOwn(o, 'g')) d.sig = o.g;
    return d;
  });
  const page: SyncPageDecoded = {
    id: obj.id as string, n: obj.n as number, hub: obj.hub as string, epoch: obj.epoch as number,
    mode: obj.mode as FeedMode, snap: obj.snap === true, head: obj.head as number, updates,
  };
  if (obj.to !== undefined) page.to = obj.to as number;
  if (typeof obj.t === 'number' && Number.isFinite(obj.t) && obj.t > 0) page.t = obj.t;
  return { page };
}

export function encodeSyncAck(id: string, n: number): string {
  return `{"pv":${SYNC_V2},"id":${q(id)},"n":${n}}`;
}

export function decodeSyncAck(payload: Buffer | string, limits: WireLimits = DEFAULT_WIRE_LIMITS): { id: string; n: number } {
  const obj = parseObject(payload, limits, 'sync ack');
  if (obj.pv !== SYNC_V2 || typeof obj.id !== 'string' || !isPos(obj.n) || obj.n === 0) bad('sync ack', 'must be {"pv":2,"id","n"}');
  return { id: obj.id as string, n: obj.n as number };
}
