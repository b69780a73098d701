/** test/helpers/tools.ts: a missing tool skips with the reason locally and fails under HAMSYNC_NO_SKIP=1 (issue 14 item 11). */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { hasTool, skipUnlessTools, type Tool } from '../helpers/tools.js';

const MISSING = 'hamsync-no-such-tool' as Tool;
const PRESENT = 'hamsync-fake-present-tool' as Tool;

/** Runs `fn` with HAMSYNC_NO_SKIP set to `value` (undefined: unset), then restores it. */
function withNoSkip<T>(value: string | undefined, fn: () => T): T {
  const was = process.env.HAMSYNC_NO_SKIP;
  if (value === undefined) delete process.env.HAMSYNC_NO_SKIP;
  else process.env.HAMSYNC_NO_SKIP = value;
  try {
    return fn();
  } finally {
    if (was === undefined) delete process.env.HAMSYNC_NO_SKIP;
    else process.env.HAMSYNC_NO_SKIP = was;
  }
}

/** Puts an executable named PRESENT first on PATH for the rest of the test. */
function installFake(t: TestContext): void {
  const dir = tempDir();
  const file = join(dir, PRESENT);
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, 0o755);
  const path = process.env.PATH;
  process.env.PATH = `${dir}${delimiter}${path ?? ''}`;
  t.after(() => {
    process.env.PATH = path;
    removeDir(dir);
  });
}

test('a missing tool: the skip reason names it and the package to install', () => {
  assert.equal(hasTool(MISSING), false);
  assert.equal(withNoSkip(undefined, () => skipUnlessTools(MISSING)), `needs ${MISSING}: apt-get install ${MISSING}`);
  assert.equal(withNoSkip('0', () => skipUnlessTools(MISSING)), `needs ${MISSING}: apt-get install ${MISSING}`, 'only "1" turns skips into failures');
});

test('HAMSYNC_NO_SKIP=1: a missing tool throws (the test fails) instead of skipping', () => {
  assert.throws(() => withNoSkip('1', () => skipUnlessTools(MISSING)), new RegExp(`^Error: HAMSYNC_NO_SKIP=1 and a required tool is missing: needs ${MISSING}: apt-get install ${MISSING}$`));
});

test('tools that are present: no skip, with or without HAMSYNC_NO_SKIP; with one missing, only it is named', (t) => {
  installFake(t);
  assert.equal(hasTool(PRESENT), true);
  assert.equal(withNoSkip(undefined, () => skipUnlessTools(PRESENT)), false);
  assert.equal(withNoSkip('1', () => skipUnlessTools(PRESENT)), false);
  assert.equal(withNoSkip(undefined, () => skipUnlessTools(PRESENT, MISSING)), `needs ${MISSING}: apt-get install ${MISSING}`);
});

test('known tools name their Debian packages (gpsfake comes with gpsd-clients)', () => {
  const reason = withNoSkip(undefined, () => skipUnlessTools('gpsfake', 'gpsd'));
  if (reason !== false) assert.match(reason, /apt-get install .*gpsd/);
  if (!hasTool('gpsfake')) assert.match(String(reason), /gpsd gpsd-clients/);
});
