/**
 * Child process for log-exit.test.ts: logs through the default (asynchronous stderr) logger,
 * then leaves at once. argv: mode (exit | throw | flood), line count, padding per line.
 */
import { writeSync } from 'node:fs';
import { createLogger } from '../../src/log.js';
import { stderrSink } from '../../src/log-stderr.js';

const [mode = 'exit', count = '1000', pad = '0'] = process.argv.slice(2);
const log = createLogger('info', { app: 'log-exit-child' });
const filler = 'x'.repeat(Number(pad));
for (let i = 0; i < Number(count); i++) log.info('line', { i, filler });
if (mode === 'throw') throw new Error('fatal after logging');
if (mode === 'flood') {
  // Tell the parent (which reads stderr only then), and end with the event loop: the drop
  // summary is written once stderr drains.
  writeSync(1, `${JSON.stringify({ dropped: stderrSink().dropped })}\n`);
} else {
  log.error('last line before exit', { mode });
  process.exit(3);
}
