import { HamsyncError } from '../errors.js';
import type { Store } from './open.js';

/**
 * `meta` key set while `hamsync import` restores an export into an empty data directory (from
 * before the first row to after the last): a directory that has it holds a partial restore.
 */
export const RESTORE_MARK = 'restore';

export interface RestoreMark {
  file: string;
  started: string;
}

/** The partial restore a data directory holds, if any. */
export function restoreMark(store: Store): RestoreMark | undefined {
  return store.meta.get(RESTORE_MARK) as RestoreMark | undefined;
}

/** Refuses (HAMSYNC_ERR_STORE) a data directory that holds a partial restore: a daemon or broker must not start on half an archive. */
export function assertNoPartialRestore(store: Store, dir: string): void {
  const mark = restoreMark(store);
  if (mark === undefined) return;
  throw new HamsyncError(
    'HAMSYNC_ERR_STORE',
    `data directory ${dir} holds a partial restore of ${mark.file} (an import started ${mark.started} was interrupted); ` +
      `run "hamsync import ${mark.file} --data-dir ${dir}" again to finish it (it starts the restore over)`,
    { dir, file: mark.file },
  );
}
