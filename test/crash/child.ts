/**
 * Crash-test child: `node child.js <dataDir> <seed> <round>`.
 *
 * Opens a Replica on a ManualClock and receives generated batches forever (until the parent
 * SIGKILLs it). Before batch `id` it sets the clock to clockAt(round, id), which promotes deferred
 * updates that fell due. After a batch's `durable` resolves it prints `ack <id>`; the parent
 * regenerates the batch's updates from (seed, round, id). Up to MAX_WINDOW batches are in flight.
 */
import { ManualClock, Replica } from '../../src/index.js';
import { batchFor, clockAt, int, prng } from './workload.js';

/** Most batches in flight (received, not yet durable); the window varies per batch up to this. */
const MAX_WINDOW = 6;
/** Safety net in case the parent never kills us. */
const MAX_LIFETIME_MS = 30_000;

async function main(dataDir: string, seed: number, round: number): Promise<void> {
  setTimeout(() => {
    process.stderr.write('child: lifetime exceeded\n');
    process.exit(3);
  }, MAX_LIFETIME_MS).unref();

  const clock = new ManualClock(clockAt(round, 0));
  const replica = await Replica.open({ dataDir, clock, mapSize: 1024 ** 3 });
  replica.on('error', (err) => {
    process.stderr.write(`child: replica error: ${err.stack ?? err.message}\n`);
    process.exit(4);
  });
  process.stdout.write('ready\n');

  // Vary how batches share LMDB transactions: sometimes several per event-loop turn, sometimes one.
  const rand = prng(seed ^ Math.imul(round + 1, 0x27d4eb2f));
  const inFlight: Promise<void>[] = [];
  for (let id = 0; ; id++) {
    clock.set(clockAt(round, id));
    const receipt = replica.receive(batchFor(seed, round, id));
    inFlight.push(receipt.durable.then(() => void process.stdout.write(`ack ${id}\n`)));
    const window = int(rand, 1, MAX_WINDOW);
    while (inFlight.length >= window) await inFlight.shift();
    if (rand() < 0.3) await new Promise((resolve) => setImmediate(resolve));
  }
}

const [dataDir, seedText, roundText] = process.argv.slice(2);
if (dataDir === undefined || seedText === undefined || roundText === undefined) {
  // `node --test dist/test/` also runs this file, without arguments: nothing to do then.
  console.log('crash child: spawned by crash.test.js with <dataDir> <seed> <round>; nothing to do');
} else {
  main(dataDir, Number(seedText), Number(roundText)).catch((err: unknown) => {
    process.stderr.write(`child: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(2);
  });
}
