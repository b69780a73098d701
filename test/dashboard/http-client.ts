/**
 * Raw HTTP for the dashboard's route tests: requests whose path is sent exactly as written (no URL
 * normalization, so traversal attempts reach the server as they are), and an event-stream reader.
 */
import { request, type IncomingMessage } from 'node:http';

export interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One request to 127.0.0.1:`port`; `host` is the Host header (default 127.0.0.1:port). */
export function raw(port: number, method: string, path: string, options: { host?: string; type?: string; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host: options.host ?? `127.0.0.1:${port}` };
    if (options.type !== undefined) headers['content-type'] = options.type;
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

export interface ServerEvent {
  event: string;
  data: unknown;
}

/** An open GET /v1/events: every event parsed, and a bounded wait for the next one that matches. */
export class EventReader {
  readonly events: ServerEvent[] = [];
  readonly response: Promise<IncomingMessage>;
  private buffer = '';
  private waiters: (() => void)[] = [];
  private res: IncomingMessage | undefined;
  ended = false;

  constructor(port: number, options: { pause?: boolean } = {}) {
    this.response = new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/v1/events', headers: { host: `127.0.0.1:${port}`, accept: 'text/event-stream' } }, (res) => {
        this.res = res;
        resolve(res);
        const done = (): void => {
          this.ended = true;
          this.wake();
        };
        res.on('close', done).on('end', done).on('error', done);
        if (options.pause) return;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => this.feed(chunk));
      });
      req.on('error', reject);
      req.end();
    });
  }

  /** Waits (at most `timeoutMs`) for an event named `name` whose data passes `test`, seen or to come. */
  async next(name: string, test: (data: never) => boolean = () => true, timeoutMs = 10_000): Promise<unknown> {
    const deadline = Date.now() + timeoutMs;
    let from = 0;
    for (;;) {
      for (; from < this.events.length; from++) {
        const e = this.events[from] as ServerEvent;
        if (e.event === name && test(e.data as never)) return e.data;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.ended) throw new Error(`no ${name} event ${this.ended ? 'before the stream ended' : `within ${timeoutMs} ms`}; got ${this.events.map((e) => e.event).join(', ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Starts reading a stream opened with `pause` (what it sent is discarded). */
  resume(): void {
    this.res?.resume();
  }

  close(): void {
    this.res?.destroy();
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let end: number;
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end);
      this.buffer = this.buffer.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event !== undefined && data !== undefined) this.events.push({ event, data: JSON.parse(data) as unknown });
    }
    this.wake();
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }
}
