import type { HistoryRow } from '../store/rows.js';

export type Format = 'ndjson' | 'csv';

const q = JSON.stringify;

/** Quoted keys and sources repeat on every row: quote each once (bounded). */
const quoted = new Map<string, string>();
function qs(text: string): string {
  let out = quoted.get(text);
  if (out === undefined) {
    out = q(text);
    if (quoted.size >= 10_000) quoted.clear();
    quoted.set(text, out);
  }
  return out;
}

/**
 * One NDJSON line (wire field names; `v` is the stored canonical JSON, written as is; `g`, the
 * source's signature, last and only on signed rows). States are finite numbers, so `String` is their JSON.
 */
export function ndjsonLine(state: number, row: HistoryRow): string {
  return `{"k":${qs(row.k)},"v":${row.j},"s":${String(state)},"src":${qs(row.src)},"outcome":"${row.o}","deferred":${row.d},"rx":${String(row.rx)}${sigField(row)}}\n`;
}

/** `,"g":…` for a signed row, else nothing. */
export function sigField(row: HistoryRow): string {
  return row.g === undefined ? '' : `,"g":${q(row.g)}`;
}

/** CSV keeps its columns: signatures are in NDJSON and MQTT replays only. */
export const CSV_HEADER = 'k,v,s,src,outcome,deferred,rx\n';

/** RFC 4180 field: quoted when it holds a comma, a quote or a line break; quotes doubled. */
export function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * The value as a CSV field: strings as their text, numbers and booleans as JSON, null as an
 * empty field, arrays and objects as their JSON text.
 */
export function csvValue(json: string): string {
  const c = json.charCodeAt(0);
  if (c === 34 /* " */) return csvField(JSON.parse(json) as string);
  if (json === 'null') return '';
  return csvField(json);
}

export function csvLine(state: number, row: HistoryRow): string {
  return `${csvField(row.k)},${csvValue(row.j)},${String(state)},${row.src},${row.o},${row.d},${String(row.rx)}\n`;
}

export function line(format: Format, state: number, row: HistoryRow): string {
  return format === 'csv' ? csvLine(state, row) : ndjsonLine(state, row);
}
