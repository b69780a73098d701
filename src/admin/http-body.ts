import type { IncomingMessage } from 'node:http';
import { HamsyncError } from '../errors.js';

/** Largest request body read, in bytes. */
export const MAX_BODY = 1024 * 1024;

/** Longest wait for a whole request body, in ms: a client trickling it (slowloris) gets 408 and is disconnected. */
export const BODY_TIMEOUT_MS = 10_000;

/**
 * Reads a JSON body: at most MAX_BODY bytes (checked while reading), arriving whole within
 * `timeoutMs` (HAMSYNC_ERR_BODY_TIMEOUT otherwise; the rest is never read).
 */
export function readBody(req: IncomingMessage, timeoutMs = BODY_TIMEOUT_MS): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const stop = (err?: HamsyncError): void => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError);
      if (err) {
        req.pause();
        return reject(err);
      }
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown);
      } catch {
        reject(new HamsyncError('HAMSYNC_ERR_PAYLOAD', 'request body is not JSON'));
      }
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > MAX_BODY) return stop(new HamsyncError('HAMSYNC_ERR_TOO_LARGE', `request body is over ${MAX_BODY} bytes`));
      chunks.push(chunk);
    };
    const onEnd = (): void => stop();
    const onError = (): void => stop(new HamsyncError('HAMSYNC_ERR_PAYLOAD', 'request body was cut off'));
    const timer = setTimeout(() => stop(new HamsyncError('HAMSYNC_ERR_BODY_TIMEOUT', `request body did not arrive whole within ${timeoutMs} ms (got ${size} bytes)`)), timeoutMs);
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
