/**
 * The wire form of a verification job (verify-pool.ts to verify-worker.ts): one ArrayBuffer,
 * transferred rather than copied, plus the job's distinct public keys.
 *
 * Layout (native-endian u32, both ends are the same process):
 *   [count] then, per item, [key index, signature length, data length]
 *   then, per item in order, its signature bytes and its data bytes.
 */
export interface PackItem {
  /** The signer's public key, base64url. */
  pub: string;
  /** The signed bytes. */
  data: Uint8Array;
  /** The raw signature. */
  sig: Uint8Array;
}

/** A packed job: the worker answers `ok` (one byte per item) under the same `id`. */
export interface PackedJob {
  id: number;
  keys: string[];
  buf: ArrayBuffer;
}

const FIELDS = 3;

/** Packs `items` into one buffer (and the list of their distinct keys). */
export function packItems(id: number, items: readonly PackItem[]): PackedJob {
  const keys: string[] = [];
  const index = new Map<string, number>();
  let bytes = 0;
  for (const it of items) bytes += it.sig.byteLength + it.data.byteLength;
  const head = 4 * (1 + FIELDS * items.length);
  const buf = new ArrayBuffer(head + bytes);
  const words = new Uint32Array(buf, 0, 1 + FIELDS * items.length);
  const body = new Uint8Array(buf);
  words[0] = items.length;
  let at = head;
  items.forEach((it, i) => {
    let k = index.get(it.pub);
    if (k === undefined) {
      k = keys.push(it.pub) - 1;
      index.set(it.pub, k);
    }
    const w = 1 + FIELDS * i;
    words[w] = k;
    words[w + 1] = it.sig.byteLength;
    words[w + 2] = it.data.byteLength;
    body.set(it.sig, at);
    at += it.sig.byteLength;
    body.set(it.data, at);
    at += it.data.byteLength;
  });
  return { id, keys, buf };
}

/** Calls `each` with every item of a packed job, in order (views into the buffer, not copies). */
export function forEachPacked(job: PackedJob, each: (pub: string, data: Uint8Array, sig: Uint8Array, i: number) => void): number {
  const count = new Uint32Array(job.buf, 0, 1)[0] as number;
  const words = new Uint32Array(job.buf, 0, 1 + FIELDS * count);
  let at = 4 * (1 + FIELDS * count);
  for (let i = 0; i < count; i++) {
    const w = 1 + FIELDS * i;
    const sigLength = words[w + 1] as number;
    const dataLength = words[w + 2] as number;
    const sig = new Uint8Array(job.buf, at, sigLength);
    at += sigLength;
    const data = new Uint8Array(job.buf, at, dataLength);
    at += dataLength;
    each(job.keys[words[w] as number] as string, data, sig, i);
  }
  return count;
}
