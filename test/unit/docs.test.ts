/** The README is part of the contract: every error code is documented there. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ERROR_CODES } from '../../src/errors.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

test('every HAMSYNC_ERR_* code has a row in the README\'s Errors table, and every row is a real code', () => {
  const section = README.slice(README.indexOf('## Errors'));
  const rows = new Set([...section.matchAll(/^\| `(HAMSYNC_ERR_[A-Z_]+)` \|/gm)].map((m) => m[1]));
  for (const code of Object.keys(ERROR_CODES)) assert.ok(rows.has(code), `${code} is missing from README "Errors"`);
  for (const code of rows) assert.ok(code !== undefined && code in ERROR_CODES, `README documents ${code}, which src/errors.ts does not have`);
});
