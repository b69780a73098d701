/**
 * The reference pages are part of the contract: every error code is documented in
 * docs/errors.md, and the generated pages (docs/configuration.md, docs/errors.md) are what
 * `npm run docs` writes from the option tables and the error table, so they cannot go stale.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorStatus } from '../../src/admin/http-kit.js';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { DOCS_DIR, generatedDocs } from '../docs/generate.js';

const ERRORS = readFileSync(`${DOCS_DIR}errors.md`, 'utf8');

/** README.md and every docs/*.md, by their path from the repository root. */
function readDocs(): Map<string, string> {
  const files = new Map<string, string>([['README.md', readFileSync(`${DOCS_DIR}../README.md`, 'utf8')]]);
  for (const name of readdirSync(DOCS_DIR).filter((n) => n.endsWith('.md')).sort()) files.set(`docs/${name}`, readFileSync(`${DOCS_DIR}${name}`, 'utf8'));
  return files;
}

test('every HAMSYNC_ERR_* code has a row in docs/errors.md with its HTTP status, and every row is a real code', () => {
  const rows = new Map([...ERRORS.matchAll(/^\| `(HAMSYNC_ERR_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1] as string, Number(m[2])]));
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    assert.ok(rows.has(code), `${code} is missing from docs/errors.md`);
    assert.equal(rows.get(code), errorStatus(code), `${code}: the HTTP status in docs/errors.md`);
  }
  for (const code of rows.keys()) assert.ok(code in ERROR_CODES, `docs/errors.md documents ${code}, which src/errors.ts does not have`);
});

test('the generated docs are up to date (run `npm run docs` after changing an option table or an error code)', () => {
  for (const [name, text] of Object.entries(generatedDocs())) {
    assert.equal(readFileSync(`${DOCS_DIR}${name}`, 'utf8'), text, `docs/${name} is stale: run \`npm run docs\``);
  }
});

test('every HAMSYNC_ERR_* code named anywhere in README.md or docs/*.md exists', () => {
  for (const [file, text] of readDocs()) {
    for (const m of text.matchAll(/HAMSYNC_ERR_[A-Z_]*[A-Z]/g)) assert.ok(m[0] in ERROR_CODES, `${file} names ${m[0]}, which src/errors.ts does not have`);
  }
});
