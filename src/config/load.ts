import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, isMap, isScalar, type Pair } from 'yaml';
import { HamsyncError } from '../errors.js';
import type { Check } from './schema.js';

export interface ConfigProblem {
  line: number;
  key: string;
  message: string;
}

/** Turns kebab-case and snake_case keys into the camelCase the schema uses. */
function camel(key: string): string {
  return key.replace(/[-_]([a-z])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Reads a YAML (or JSON — JSON is YAML) config file and checks every key against `schema`.
 * Returns the values and the problems, each with the line it is on.
 */
export function checkConfigFile(path: string, schema: Record<string, Check>): { values: Record<string, unknown>; problems: ConfigProblem[]; lines: Record<string, number> } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `cannot read config file ${path}: ${(err as Error).message}`, { field: 'config' });
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const problems: ConfigProblem[] = doc.errors.map((e) => ({ line: lines.linePos(e.pos[0]).line, key: '', message: e.message.split('\n')[0] ?? e.message }));
  const values: Record<string, unknown> = {};
  const keyLines: Record<string, number> = {};
  if (problems.length > 0) return { values, problems, lines: keyLines };
  if (doc.contents === null) return { values, problems, lines: keyLines };
  if (!isMap(doc.contents)) return { values, problems: [{ line: 1, key: '', message: 'a config file must be a mapping of keys to values' }], lines: keyLines };
  for (const pair of doc.contents.items as Pair[]) {
    const rawKey = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const key = camel(rawKey);
    const range = (pair.key as { range?: [number, number, number] } | null)?.range;
    const line = range ? lines.linePos(range[0]).line : 0;
    keyLines[key] = line;
    const check = schema[key];
    if (!check) {
      problems.push({ line, key: rawKey, message: `unknown key ${JSON.stringify(rawKey)}; known keys: ${Object.keys(schema).join(', ')}` });
      continue;
    }
    const value: unknown = pair.value && typeof pair.value === 'object' && 'toJSON' in pair.value ? (pair.value as { toJSON(): unknown }).toJSON() : pair.value;
    try {
      check(value, key);
      values[key] = value;
    } catch (err) {
      problems.push({ line, key: rawKey, message: (err as Error).message.replace(/^HAMSYNC_ERR_CONFIG: /, '') });
    }
  }
  return { values, problems, lines: keyLines };
}

/** Loads a config file for use: the first problem becomes one clear error with file and line. */
export function loadConfigFile(path: string, schema: Record<string, Check>): Record<string, unknown> {
  const { values, problems } = checkConfigFile(path, schema);
  const first = problems[0];
  if (first) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${path}:${first.line}: ${first.message}`, { field: first.key, line: first.line });
  return values;
}
