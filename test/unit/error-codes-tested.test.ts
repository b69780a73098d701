/**
 * Every documented error code is raised by at least one test: each ERROR_CODES entry must be
 * named in some test source (test/**\/*.ts, this file excluded; it names none literally).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../../src/errors.js';

/** The test sources (this file runs from dist/test/unit/). */
const TEST_DIR = fileURLToPath(new URL('../../../test/', import.meta.url));
const SELF = 'error-codes-tested.test.ts';

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(path));
    else if (e.name.endsWith('.ts') && e.name !== SELF) out.push(path);
  }
  return out;
}

test('every ERROR_CODES entry is named by at least one test', () => {
  const files = sources(TEST_DIR);
  assert.ok(files.length > 20, `found the test sources in ${TEST_DIR} (${files.length} files)`);
  const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
  const untested = Object.keys(ERROR_CODES).filter((code) => !new RegExp(`\\b${code}\\b`).test(text));
  assert.deepEqual(untested, [], `no test raises: ${untested.join(', ')}`);
});
