/** Raw MQTT 3.1.1 packets, byte by byte, for tests that must send what no client library would. */

/** MQTT remaining length (1–4 bytes). */
export function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** A length-prefixed string (2-byte big-endian length). */
export function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** A packet: its first byte, the remaining length, the body. */
export function frame(type: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([type]), varint(body.length), body]);
}

/** CONNECT, MQTT 3.1.1, clean session, keepalive 60 s. */
export function connectPacket(clientId: string): Buffer {
  return frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 60]), str(clientId)]));
}

/** PUBLISH at QoS 1 with packet id 1. */
export function publishPacket(topic: string | Buffer, payload: string | Buffer): Buffer {
  return frame(0x32, Buffer.concat([str(topic), Buffer.from([0, 1]), Buffer.from(payload)]));
}

/** SUBSCRIBE to one filter at QoS 1, packet id 1. */
export function subscribePacket(filter: string): Buffer {
  return frame(0x82, Buffer.concat([Buffer.from([0, 1]), str(filter), Buffer.from([1])]));
}

/** CONNECT, MQTT 3.1.1, clean session, keepalive 60 s, with a user name and password. */
export function loginPacket(clientId: string, username: string, password: string): Buffer {
  return frame(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, 0xc2, 0, 60]), str(clientId), str(username), str(password)]));
}
