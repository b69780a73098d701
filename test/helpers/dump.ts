import { Writable } from 'node:stream';
import { exportDataDir } from '../../src/replay/export.js';

/** The full content of a data dir (live, history with outcomes and receive times, deferred), as an export with a fixed `created`. */
export async function dump(dir: string): Promise<string> {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString('utf8');
      cb();
    },
  });
  await exportDataDir(dir, sink, { created: new Date(0) });
  return out;
}
