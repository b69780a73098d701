/**
 * A verification worker thread (see verify-pool.ts): answers each packed job (verify-job.ts),
 * handing the answer's buffer back rather than copying it.
 */
import { parentPort } from 'node:worker_threads';
import { verifyJob } from './verify-job.js';
import type { PackedJob } from './verify-pack.js';

parentPort?.on('message', (job: PackedJob) => {
  const answer = verifyJob(job);
  parentPort?.postMessage(answer, [answer.ok.buffer]);
});
