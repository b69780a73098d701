/** The docs are part of the contract: every error code is documented, with the HTTP status the APIs send. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import { errorStatus } from '../../src/admin/http-kit.js';
import { ERROR_CODES, type ErrorCode } from '../../src/errors.js';

const ROOT = new URL('../../../', import.meta.url);
const DOCS = new URL('docs/', ROOT);

/** README.md and every docs/*.md, by their path from the repository root. */
function readDocs(): Map<string, string> {
  const files = new Map<string, string>([['README.md', readFileSync(new URL('README.md', ROOT), 'utf8')]]);
  for (const name of readdirSync(DOCS).filter((n) => n.endsWith('.md')).sort()) files.set(`docs/${name}`, readFileSync(new URL(name, DOCS), 'utf8'));
  return files;
}

/** Table rows whose first cell is a code: `| \`HAMSYNC_ERR_X\` | ... |`, with their cells. */
function codeRows(text: string): { code: string; cells: string[] }[] {
  return [...text.matchAll(/^\| `(HAMSYNC_ERR_[A-Z_]+)` \|(.*)\|$/gm)].map((m) => ({ code: m[1] ?? '', cells: (m[2] ?? '').split('|').map((c) => c.trim()) }));
}

const isCode = (code: string): code is ErrorCode => code in ERROR_CODES;

test('every HAMSYNC_ERR_* code has a row in a docs table (README.md or docs/*.md), and every row is a real code', () => {
  const rows = new Map<string, string>();
  for (const [file, text] of readDocs()) for (const { code } of codeRows(text)) rows.set(code, file);
  for (const code of Object.keys(ERROR_CODES)) assert.ok(rows.has(code), `${code} has no row in README.md or docs/*.md (docs/errors.md lists them)`);
  for (const [code, file] of rows) assert.ok(isCode(code), `${file} documents ${code}, which src/errors.ts does not have`);
});

test('docs/errors.md lists every code once, with the HTTP status the local APIs answer it with', () => {
  const text = readDocs().get('docs/errors.md');
  assert.ok(text !== undefined, 'docs/errors.md is missing');
  const rows = codeRows(text);
  assert.deepEqual(rows.map((r) => r.code).sort(), Object.keys(ERROR_CODES).sort(), 'docs/errors.md: one row per code of src/errors.ts');
  for (const { code, cells } of rows) {
    assert.ok(isCode(code));
    assert.equal(cells[0], String(errorStatus(code)), `docs/errors.md: the HTTP status of ${code}`);
  }
});

test('every HAMSYNC_ERR_* code named anywhere in README.md or docs/*.md exists', () => {
  for (const [file, text] of readDocs()) {
    for (const m of text.matchAll(/HAMSYNC_ERR_[A-Z_]*[A-Z]/g)) assert.ok(isCode(m[0]), `${file} names ${m[0]}, which src/errors.ts does not have`);
  }
});
