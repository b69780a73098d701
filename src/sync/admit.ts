import { HamsyncError } from '../errors.js';
import type { CheckedUpdate } from '../model/update.js';
import { emptyNeed, updateBytes, type Need, type QueueAccounts } from './accounts.js';
import { fingerprint } from './overlay.js';
import type { QueueLimits } from './queue-limits.js';
import { inDeferred, inQuarantine, type BatchContext } from './resolve.js';

/**
 * A message (or batch) whose room in the deferred and quarantine queues is reserved: checked
 * and held synchronously, written later (possibly with other admissions, in one transaction).
 */
export interface Admission {
  readonly updates: readonly CheckedUpdate[];
  /** Per update: stamped beyond the horizon when admitted, so it goes to quarantine. */
  readonly beyond: readonly boolean[];
  /** Room held per source until the admission is written or cancelled. */
  readonly needs: ReadonlyMap<string, Need>;
  /** True once written or cancelled (its reservation is then returned). */
  done: boolean;
}

type View = Pick<BatchContext, 'store' | 'overlay'>;

/**
 * Classifies each update against `machine` (beyond the horizon: quarantine; ahead: deferred;
 * else due) and reserves the room the message needs per source. Over a cap, the whole message
 * is refused (HAMSYNC_ERR_DEFERRED_FULL / HAMSYNC_ERR_QUARANTINE_FULL) and nothing is reserved.
 * Exact copies of updates already waiting need no room; they are looked up only when a source
 * would otherwise be over its cap, so the common path costs no reads.
 */
export function admit(view: View, accounts: QueueAccounts, limits: QueueLimits, updates: readonly CheckedUpdate[], machine: number): Admission {
  const horizon = machine + limits.maxFutureMs;
  const beyond = updates.map((u) => u.state > horizon);
  const needs = new Map<string, Need>();
  updates.forEach((u, i) => {
    if (u.state <= machine) return;
    let need = needs.get(u.source);
    if (!need) needs.set(u.source, (need = emptyNeed()));
    if (beyond[i]) need.quarantined++;
    else {
      need.deferred++;
      need.deferredBytes += updateBytes(u.key, u.text);
    }
  });
  for (const [source, need] of needs) {
    if (overBy(accounts, limits, source, need) === undefined) continue;
    const [exact, partial] = recount(view, updates, beyond, source, machine, (n) => overBy(accounts, limits, source, n) === undefined);
    const over = overBy(accounts, limits, source, exact, partial ? 'this message would add at least' : 'this message would add');
    if (over !== undefined) throw over;
    needs.set(source, exact);
  }
  accounts.reserve(needs);
  return { updates, beyond, needs, done: false };
}

/**
 * The room a source's updates need once exact copies of waiting ones (and repeats) are left
 * out. Stops as soon as the count no longer `fits` (a flood of new updates costs one lookup).
 */
function recount(view: View, updates: readonly CheckedUpdate[], beyond: readonly boolean[], source: string, machine: number, fits: (need: Need) => boolean): [Need, boolean] {
  const need = emptyNeed();
  const seen = new Set<string>();
  for (let i = 0; i < updates.length; i++) {
    const u = updates[i] as CheckedUpdate;
    if (u.source !== source || u.state <= machine) continue;
    const fp = `${beyond[i] ? 'q' : 'd'}${fingerprint(u.key, u.state, u.source, u.text)}`;
    if (seen.has(fp)) continue;
    seen.add(fp);
    if (beyond[i]) {
      if (inQuarantine(view, u)) continue;
      need.quarantined++;
    } else {
      if (inDeferred(view, u)) continue;
      need.deferred++;
      need.deferredBytes += updateBytes(u.key, u.text);
    }
    if (!fits(need)) return [need, updates.some((x, j) => j > i && x.source === source && x.state > machine)];
  }
  return [need, false];
}

/** The error to refuse `need` with, or undefined when it fits beside what is stored and reserved. */
export function overBy(accounts: QueueAccounts, limits: QueueLimits, source: string, need: Need, adding = 'this message would add'): HamsyncError | undefined {
  const has = accounts.get(source);
  const held = accounts.reservedFor(source);
  if (need.deferred > 0) {
    const n = has.deferred + held.deferred + need.deferred;
    const bytes = has.deferredBytes + held.deferredBytes + need.deferredBytes;
    if (n > limits.deferredMaxPerSource || bytes > limits.deferredMaxBytesPerSource) {
      return new HamsyncError(
        'HAMSYNC_ERR_DEFERRED_FULL',
        `source ${source} has ${has.deferred + held.deferred} deferred updates (${has.deferredBytes + held.deferredBytes} bytes) and ${adding} ${need.deferred} (${need.deferredBytes} bytes); ` +
          `the cap is ${limits.deferredMaxPerSource} updates and ${limits.deferredMaxBytesPerSource} bytes per source (deferredMaxPerSource, deferredMaxBytesPerSource); nothing of it was stored`,
        { source, deferred: has.deferred, deferredBytes: has.deferredBytes, adding: need.deferred, addingBytes: need.deferredBytes },
      );
    }
  }
  if (need.quarantined > 0 && has.quarantined + held.quarantined + need.quarantined > limits.quarantineMaxPerSource) {
    return new HamsyncError(
      'HAMSYNC_ERR_QUARANTINE_FULL',
      `source ${source} has ${has.quarantined + held.quarantined} quarantined updates (stamped more than ${limits.maxFutureMs} ms ahead) and ${adding} ${need.quarantined}; ` +
        `the cap is ${limits.quarantineMaxPerSource} per source (quarantineMaxPerSource); nothing of it was stored`,
      { source, quarantined: has.quarantined, adding: need.quarantined },
    );
  }
  return undefined;
}
