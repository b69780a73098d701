/**
 * [MQTT-3.1.2-2]: a CONNECT whose protocol level the server does not support gets CONNACK 1
 * (unacceptable protocol level) and is closed. mqtt-packet fails to parse a CONNECT of any level
 * but 3, 4 and 5 (so Aedes just drops the connection), and Aedes 1.2 speaks 3.1 and 3.1.1 only;
 * this looks at the first bytes of a connection, before the parser, and answers for it.
 * The protocol name must go with its level [MQTT-3.1.2-1]: "MQTT" with 4, "MQIsdp" with 3.
 */

/** The CONNACK the gate sends for an unsupported level (MQTT 3.1.1 format, return code 1). */
export const CONNACK_BAD_LEVEL = Buffer.from([0x20, 0x02, 0x00, 0x01]);

const SUPPORTED: Record<string, number> = { MQTT: 4, MQIsdp: 3 };

/**
 * Looks at the start of a connection: 'more' until the protocol level byte has arrived (at most
 * 14 bytes), then 'refuse' for a CONNECT of a known protocol name at a level that does not match
 * it, else 'ok' (anything else, including a malformed CONNECT, is left to the parser).
 */
export function connectLevel(head: Uint8Array): 'more' | 'ok' | 'refuse' {
  if (head.length === 0) return 'more';
  if (head[0] !== 0x10) return 'ok';
  let i = 1;
  for (;;) {
    if (i >= head.length) return 'more';
    const b = head[i++] as number;
    if (!(b & 0x80)) break;
    if (i > 4) return 'ok';
  }
  if (head.length < i + 2) return 'more';
  const nameLength = ((head[i] as number) << 8) | (head[i + 1] as number);
  if (nameLength !== 4 && nameLength !== 6) return 'ok';
  const levelAt = i + 2 + nameLength;
  if (head.length <= levelAt) return 'more';
  const name = Buffer.from(head.subarray(i + 2, levelAt)).toString('latin1');
  const wanted = SUPPORTED[name];
  if (wanted === undefined) return 'ok';
  return (head[levelAt] as number) === wanted ? 'ok' : 'refuse';
}
