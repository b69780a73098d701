import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';

/** Anything with node:test's `after` hook (a TestContext or a SuiteContext-like object). */
export interface HasAfter {
  after(fn: () => unknown): void;
}

const leftovers = new Set<string>();

// Safety net: whatever was not removed explicitly goes when the file's tests end.
after(() => {
  for (const dir of leftovers) fs.rmSync(dir, { recursive: true, force: true });
  leftovers.clear();
});

/** Removes a temp dir made by `tempDir` (rm -rf; missing is fine). */
export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  leftovers.delete(dir);
}

/**
 * Creates a fresh directory `$TMPDIR/hamsync-XXXXXX`. With a test context it is removed
 * when that test ends (`t.after`); otherwise call `removeDir`, or it goes when the file ends.
 */
export function tempDir(t?: HasAfter): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hamsync-'));
  leftovers.add(dir);
  if (t) t.after(() => removeDir(dir));
  return dir;
}
