/**
 * GUN's own HAM (gun@0.2020.1232, the devDependency alias `gun-legacy`), the reference the
 * resolver test and the resolver bench compare ours with. Loading it prints GUN's banner and
 * patches globals: load it after anything that must not see that.
 */
import { createRequire } from 'node:module';
import type { Json } from '../../src/index.js';

/** What GUN's HAM answers: flags, or `err` (for a missing current value, say). */
export interface GunHamResult {
  defer?: true;
  historical?: true;
  converge?: true;
  incoming?: true;
  current?: true;
  state?: true;
  err?: string;
}

export type GunHam = (machineState: number, incomingState: number, currentState: number, incomingValue: Json, currentValue: Json) => GunHamResult;

export function loadGunHam(): GunHam {
  const Gun = createRequire(import.meta.url)('gun-legacy/gun') as { HAM?: unknown };
  if (typeof Gun.HAM !== 'function') throw new Error('gun-legacy/gun does not export HAM');
  return Gun.HAM as GunHam;
}
