/**
 * A verification worker that dies (exit code 7) on a job carrying the public key in
 * workerData.doom, before answering it; any other job it answers as the real worker does
 * (src/sign/verify-job.ts). For tests of what the pool does when a worker dies mid-batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { verifyJob } from '../../src/sign/verify-job.js';
import type { PackedJob } from '../../src/sign/verify-pack.js';

const doom = (workerData as { doom?: string } | null)?.doom;
parentPort?.on('message', (job: PackedJob) => {
  if (doom !== undefined && job.keys.includes(doom)) process.exit(7);
  const answer = verifyJob(job);
  parentPort?.postMessage(answer, [answer.ok.buffer]);
});
