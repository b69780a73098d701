import { request } from 'node:http';
import type { Argv } from 'yargs';
import { ERROR_CODES, HamsyncError, type ErrorCode } from '../errors.js';
import { parseHostPort } from '../util/duration.js';
import { CLIENT, type ClientInput } from '../config/client-options.js';
import { yargsOptions } from '../config/option-table.js';

/** Options every client command shares. */
export function withClient<T>(y: Argv<T>): Argv<T & Required<ClientInput>> {
  // Both have defaults: the handlers see them set.
  return y.options(yargsOptions(CLIENT)) as unknown as Argv<T & Required<ClientInput>>;
}

/** Calls the daemon's HTTP API; a daemon error (404 included) becomes a HamsyncError with its code, no answer HAMSYNC_ERR_NETWORK. */
export function call(http: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const { host, port } = parseHostPort(http, 'http');
  const data = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({ host, port, method, path, timeout: 10_000, headers: data ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          return reject(new HamsyncError('HAMSYNC_ERR_NETWORK', `the daemon at ${http} answered something that is not JSON`));
        }
        const status = res.statusCode ?? 0;
        const err = parsed.error as { code?: string; message?: string } | undefined;
        if (status >= 400 && err) {
          // The daemon's own coded error (its message already starts with the code).
          const code = err.code !== undefined && err.code in ERROR_CODES ? (err.code as ErrorCode) : 'HAMSYNC_ERR_NETWORK';
          const e = new HamsyncError(code, '');
          e.message = err.message ?? `${code}: HTTP ${status}`;
          return reject(e);
        }
        resolve({ status, body: parsed });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e) => reject(new HamsyncError('HAMSYNC_ERR_NETWORK', `no daemon answers at ${http} (${e.message}); is 'hamsync daemon' running?`)));
    req.end(data);
  });
}

/** A state as a human reads it: ISO time when it looks like epoch ms, else the number. */
export { showInstant as showState } from '../util/instant.js';

export function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
}
