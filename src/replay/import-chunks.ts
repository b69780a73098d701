import { HamsyncError, describe } from '../errors.js';
import type { Limits } from '../model/limits.js';
import type { CheckedUpdate } from '../model/update.js';
import type { Keyring } from '../sign/keyring.js';
import { checkEachAsync } from '../sign/policy.js';
import type { ExportCounts } from './export.js';
import { checkCounts, lineError, maxLineBytes, parseHeader, parseRow, readLines, type ParsedRow } from './import-lines.js';

/** Signature checks for an import (see ImportOptions.signatures). */
export interface SignatureCheck {
  keyring: Keyring;
  requireSigned?: boolean;
}

/** A checked row and its line, for signature checks. */
export interface SignedRow {
  checked: CheckedUpdate;
  line: number;
}

/** A chunk is also cut when its lines add up to this many characters (bounds memory with large values). */
const CHUNK_CHARS = 16 * 1024 * 1024;

const REFUSED: Record<string, string> = {
  missing: 'has no signature, but its source has a public key',
  malformed: 'has a malformed signature',
  invalid: 'has a signature that does not verify with its source\'s public key',
  'unknown-source': 'comes from a source with no known public key, and signatures are required',
};

/** Verifies each row's signature on its own; throws for the first one (in file order) that is refused. */
export async function verifyRows(file: string, rows: readonly SignedRow[], signatures: SignatureCheck): Promise<void> {
  const verdicts = await checkEachAsync(rows.map((r) => r.checked), signatures.keyring, { requireSigned: signatures.requireSigned ?? false });
  const i = verdicts.findIndex((v) => v instanceof HamsyncError);
  if (i < 0) return;
  const err = verdicts[i] as HamsyncError;
  const row = rows[i] as SignedRow;
  const why = String(err.details.reason);
  throw lineError('HAMSYNC_ERR_SIGNATURE', file, row.line, `the row (key ${describe(row.checked.key)}, source ${describe(row.checked.source)}) ${REFUSED[why] ?? why}`, err.details);
}

/** One chunk of pass 2: rows in file order, and the number of the last line read. */
export interface RowChunk {
  rows: ParsedRow[];
  lines: number;
}

/**
 * Pass 2's reading: the file's rows (parsed and checked again: the file is read again, and must
 * not slip anything in between the passes), in chunks of at most `size` rows (or about 16 MiB of
 * text), each verified when `signatures` are checked. After the last chunk, checks the rows
 * against the header's counts (`expected`), so a file changed since pass 1 fails there.
 */
export async function* readChunks(file: string, limits: Limits, size: number, expected: ExportCounts, signatures?: SignatureCheck): AsyncGenerator<RowChunk> {
  const seen: ExportCounts = { live: 0, history: 0, deferred: 0 };
  let rows: ParsedRow[] = [];
  let signed: SignedRow[] = [];
  let chars = 0;
  let lines = 0;
  const take = async (): Promise<RowChunk> => {
    if (signatures) await verifyRows(file, signed, signatures);
    const chunk = { rows, lines };
    rows = [];
    signed = [];
    chars = 0;
    return chunk;
  };
  for await (const batch of readLines(file, maxLineBytes(limits))) {
    for (const line of batch) {
      lines = line.number;
      if (line.number === 1) {
        parseHeader(file, line);
        continue;
      }
      const row = parseRow(file, line, limits);
      seen[row.kind]++;
      rows.push(row);
      if (signatures) signed.push({ checked: row.checked, line: line.number });
      chars += line.text.length;
      if (rows.length >= size || chars >= CHUNK_CHARS) yield await take();
    }
  }
  if (rows.length > 0) yield await take();
  checkCounts(file, lines, expected, seen);
}
