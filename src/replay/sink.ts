import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import type { MqttClient } from 'mqtt';
import { HamsyncError } from '../errors.js';
import type { HistoryRow } from '../store/rows.js';
import { line, sigField, CSV_HEADER, type Format } from './format.js';

/** Where replayed rows go. */
export interface Sink {
  write(state: number, row: HistoryRow): Promise<void> | void;
  close(): Promise<void>;
}

const CHUNK = 64 * 1024;

/** NDJSON or CSV to a stream (stdout or --out FILE), buffered in 64 KiB chunks, honouring backpressure. */
export function textSink(format: Format, out?: string): Sink {
  const stream: Writable = out === undefined ? process.stdout : createWriteStream(out);
  let buf = format === 'csv' ? CSV_HEADER : '';
  const flush = async (): Promise<void> => {
    if (buf === '') return;
    const ok = stream.write(buf);
    buf = '';
    if (!ok) await once(stream, 'drain');
  };
  return {
    write(state, row) {
      buf += line(format, state, row);
      if (buf.length >= CHUNK) return flush();
    },
    async close() {
      await flush();
      if (stream !== process.stdout) {
        stream.end();
        await once(stream, 'finish');
      }
    },
  };
}

/** Replay topic of one row: `hamsync/<ns>/replay/<session>/<key>` (docs/PROTOCOL.md). */
export function replayTopic(ns: string, session: string, key: string): string {
  return `hamsync/${ns}/replay/${session}/${key}`;
}

/**
 * Re-publishes rows over MQTT, QoS 1, `{"v","s","src","outcome","deferred","rx","g"?}` on the replay
 * topic; at most `window` messages wait for their PUBACK.
 */
export async function mqttSink(url: string, ns: string, session: string, options: { ca?: Buffer; window?: number; username?: string; password?: string } = {}): Promise<Sink> {
  const { default: mqtt } = await import('mqtt');
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(url, {
      clientId: `hamsync-replay-${session}`,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      // No cache of 65,536 number Buffers (~6 MB): see src/daemon/link-options.ts.
      writeCache: false,
      ...(options.ca ? { ca: options.ca } : {}),
      ...(options.username !== undefined ? { username: options.username, clientId: `hamsync-${options.username}.replay-${session}` } : {}),
      ...(options.password !== undefined ? { password: options.password } : {}),
    });
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_NETWORK', `cannot reach the broker at ${url}: ${(err as Error).message}`);
  }
  (client.stream as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
  const window = options.window ?? 256;
  let inflight = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const done = (err?: Error): void => {
    inflight--;
    if (err) failure ??= err;
    wake?.();
  };
  const room = async (max: number): Promise<void> => {
    while (inflight > max) await new Promise<void>((r) => (wake = r));
    if (failure) throw new HamsyncError('HAMSYNC_ERR_NETWORK', `publishing to ${url} failed: ${failure.message}`);
  };
  return {
    async write(state, row) {
      await room(window - 1);
      inflight++;
      const payload = `{"v":${row.j},"s":${JSON.stringify(state)},"src":${JSON.stringify(row.src)},"outcome":"${row.o}","deferred":${row.d},"rx":${JSON.stringify(row.rx)}${sigField(row)}}`;
      client.publish(replayTopic(ns, session, row.k), payload, { qos: 1 }, (err) => done(err ?? undefined));
    },
    async close() {
      try {
        await room(0);
      } finally {
        await client.endAsync();
      }
    },
  };
}
