/**
 * MQTT 3.1.1 rules a server must enforce that Aedes 1.2 and mqtt-packet leave open, checked on
 * every parsed packet before Aedes handles it (see docs/mqtt-conformance.md for the full list of
 * statements checked, and which of them Aedes already enforces):
 *
 * - CONNACK 2 (identifier rejected), then close: a zero-length client id with clean session 0
 *   [MQTT-3.1.3-8]; a client id longer than `maxClientIdLength` for every protocol version
 *   (Aedes checks it for 3.1 only), so a huge id never reaches the session table or a log line.
 * - Close without an answer (a protocol violation, [MQTT-4.8.0-1]): will QoS 3 [MQTT-3.1.2-14],
 *   a password without a user name [MQTT-3.1.2-22], U+0000 or invalid UTF-8 in a string
 *   [MQTT-1.5.3-1, -2], a SUBSCRIBE or UNSUBSCRIBE without a filter [MQTT-3.8.3-3, 3.10.3-2], an
 *   invalid topic filter [MQTT-4.7.1-2, -3, 4.7.3-1], wildcards or nothing in a topic name
 *   [MQTT-3.3.2-2, 4.7.3-1], DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
 *
 * mqtt-packet decodes strings with U+FFFD in place of invalid UTF-8, so a string holding U+FFFD
 * is refused as invalid (a genuine U+FFFD is refused too; hamsync never uses one in a topic or id).
 */
import type { EventEmitter } from 'node:events';
import type { Client } from 'aedes';

/** What the hook decides for one packet. */
export type Verdict = { ok: true } | { ok: false; rule: string; reason: string; connack?: 2 };

const OK: Verdict = { ok: true };
const violation = (rule: string, reason: string): Verdict => ({ ok: false, rule, reason });

/** A string MQTT may carry: no U+0000 [MQTT-1.5.3-2], and valid UTF-8 (no U+FFFD after decoding) [MQTT-1.5.3-1]. */
export function badString(s: string): boolean {
  return s.includes('\u0000') || s.includes('\ufffd');
}

/** Why a topic filter is invalid, or undefined [MQTT-4.7.1-2, 4.7.1-3, 4.7.3-1]. */
export function filterProblem(filter: string): string | undefined {
  if (filter.length === 0) return 'empty topic filter';
  if (badString(filter)) return 'U+0000 or invalid UTF-8 in a topic filter';
  const levels = filter.split('/');
  for (const [i, l] of levels.entries()) {
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return '"#" must be a whole level, the last one';
    if (l.includes('+') && l !== '+') return '"+" must be a whole level';
  }
  return undefined;
}

/** Why a topic name (PUBLISH, will) is invalid, or undefined [MQTT-3.3.2-2, 4.7.3-1, 1.5.3]. */
export function topicProblem(topic: string): string | undefined {
  if (topic.length === 0) return 'empty topic name';
  if (badString(topic)) return 'U+0000 or invalid UTF-8 in a topic name';
  if (topic.includes('+') || topic.includes('#')) return 'wildcards in a topic name';
  return undefined;
}

interface AnyPacket {
  cmd: string;
  qos?: number;
  dup?: boolean;
  topic?: string;
  clientId?: string;
  clean?: boolean;
  username?: string;
  password?: Buffer;
  will?: { topic: string; qos: number };
  subscriptions?: { topic: string }[];
  unsubscriptions?: string[];
}

/** Checks one packet; `maxClientIdLength` in UTF-16 code units. */
export function checkPacket(p: AnyPacket, maxClientIdLength: number): Verdict {
  switch (p.cmd) {
    case 'connect': {
      const id = p.clientId ?? '';
      if (badString(id) || (p.username !== undefined && badString(p.username))) return violation('MQTT-1.5.3-1', 'U+0000 or invalid UTF-8 in the client id or user name');
      if (p.password !== undefined && p.username === undefined) return violation('MQTT-3.1.2-22', 'a password without a user name');
      if (p.will) {
        if (p.will.qos > 2) return violation('MQTT-3.1.2-14', 'will QoS 3');
        const t = topicProblem(p.will.topic);
        if (t) return violation('MQTT-3.3.2-2', `will topic: ${t}`);
      }
      if (id.length === 0 && p.clean === false) return { ok: false, rule: 'MQTT-3.1.3-8', reason: 'a zero-length client id needs clean session 1', connack: 2 };
      if (id.length > maxClientIdLength) return { ok: false, rule: 'client-id-length', reason: `client id of ${id.length} characters, the limit is ${maxClientIdLength}`, connack: 2 };
      return OK;
    }
    case 'subscribe':
    case 'unsubscribe': {
      const filters = p.cmd === 'subscribe' ? (p.subscriptions ?? []).map((s) => s.topic) : (p.unsubscriptions ?? []);
      if (filters.length === 0) return violation(p.cmd === 'subscribe' ? 'MQTT-3.8.3-3' : 'MQTT-3.10.3-2', `${p.cmd.toUpperCase()} without a topic filter`);
      for (const f of filters) {
        const why = filterProblem(f);
        if (why) return violation('MQTT-4.7.1-2', why);
      }
      return OK;
    }
    case 'publish': {
      if (p.qos === 0 && p.dup === true) return violation('MQTT-3.3.1-2', 'DUP set on a QoS 0 PUBLISH');
      const why = topicProblem(p.topic ?? '');
      return why ? violation('MQTT-3.3.2-2', why) : OK;
    }
    default:
      return OK;
  }
}

/** CONNACK with return code 2 (identifier rejected), MQTT 3.1.1. */
const CONNACK_IDENTIFIER_REJECTED = Buffer.from([0x20, 0x02, 0x00, 0x02]);

/**
 * Puts `checkPacket` between the client's MQTT parser and Aedes. A packet that fails is never
 * handed to Aedes: the connection is closed (after a CONNACK 2, where the rule asks for one), and
 * so is every packet after it. Uses Aedes' private `_parser` (Aedes 1.2); a test fails if an
 * upgrade removes it (test/security/conformance.test.ts).
 */
export function gatePackets(client: Client, maxClientIdLength: number, onViolation: (v: Extract<Verdict, { ok: false }>) => void): boolean {
  const parser = (client as unknown as { _parser?: EventEmitter })._parser;
  if (!parser || typeof parser.listeners !== 'function') return false;
  const handlers = parser.listeners('packet') as ((this: unknown, packet: unknown) => void)[];
  parser.removeAllListeners('packet');
  let refused = false;
  parser.on('packet', function (this: unknown, packet: AnyPacket) {
    if (refused) return;
    const v = checkPacket(packet, maxClientIdLength);
    if (!v.ok) {
      refused = true;
      onViolation(v);
      const conn = client.conn as unknown as NodeJS.WritableStream & { destroy(): void };
      if (v.connack === 2) conn.write(CONNACK_IDENTIFIER_REJECTED, () => conn.destroy());
      else conn.destroy();
      return;
    }
    for (const h of handlers) h.call(this, packet);
  });
  return true;
}
