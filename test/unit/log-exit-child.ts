/**
 * Child process for log-exit.test.ts: logs through the default (asynchronous stderr) logger,
 * then leaves. argv: mode, line count, padding per line.
 *   exit:  all lines in one go, then process.exit(3) at once;
 *   throw: all lines in one go, then an uncaught exception;
 *   burst: bursts of 1,000 lines with a turn of the event loop between, then flushLogs() and
 *          process.exit(3) (so writes are under way in the thread pool when it stops);
 *   flood: all lines in one go, then a line on stdout, then the event loop ends.
 * At exit it writes {dropped, retried} on stdout.
 */
import { writeSync } from 'node:fs';
import { setImmediate as turn } from 'node:timers/promises';
import { createLogger, flushLogs } from '../../src/log.js';
import { stderrSink } from '../../src/log-stderr.js';

const [mode = 'exit', count = '1000', pad = '0'] = process.argv.slice(2);
const log = createLogger('info', { app: 'log-exit-child' });
process.on('exit', () => writeSync(1, `${JSON.stringify({ dropped: stderrSink().dropped, retried: stderrSink().retried })}\n`));
const filler = 'x'.repeat(Number(pad));
for (let i = 0; i < Number(count); i++) {
  log.info('line', { i, filler });
  if (mode === 'burst' && i % 1000 === 999) await turn();
}
if (mode === 'throw') throw new Error('fatal after logging');
if (mode === 'flood') {
  // Tell the parent (which reads stderr only then); the drop summary is written once stderr drains.
  writeSync(1, `${JSON.stringify({ dropped: stderrSink().dropped })}\n`);
} else {
  log.error('last line before exit', { mode });
  if (mode === 'burst') await flushLogs(10_000);
  process.exit(3);
}
