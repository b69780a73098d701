/**
 * An option table: one entry per option of a program, from which the command line flags
 * (yargs), the config file schema, the TypeScript input type, the merged defaults and the
 * reference tables of docs/configuration.md are all made. See daemon-options.ts,
 * broker-options.ts, client-options.ts.
 */
import type { Options as YargsOption } from 'yargs';
import type { Check } from '../util/check.js';

/** How a value is given: `duration` is text like 30s (or ms from code), `size` text like 16MiB (or bytes), `json` a list or its JSON text. */
export type OptionKind = 'string' | 'number' | 'boolean' | 'list' | 'duration' | 'size' | 'json';

export interface OptionEntry {
  readonly type: OptionKind;
  /** One line, as --help shows it. */
  readonly describe: string;
  /** The default: a value, or a function of the environment (read when the table is used). */
  readonly default?: unknown;
  /**
   * Who applies the default: `flag` (the default; yargs sets it, --help shows it as
   * [default: …], and `withDefaults` merges it for library callers), `merge` (only
   * `withDefaults`), or `program` (an absent option means the program's own default, and --help
   * adds "(default …)" to the description).
   */
  readonly defaultBy?: 'flag' | 'merge' | 'program';
  /** The default as the docs name it, when it is not a plain value ("keep all"). */
  readonly defaultText?: string;
  /** What the number counts, for the docs (ms, bytes, updates/s...). */
  readonly unit?: string;
  /** The library input must have it (the command line may still have a default for it). */
  readonly required?: boolean;
  /** The values a string option takes (its TypeScript type is their union). */
  readonly choices?: readonly string[];
  /** For commands without config files (client commands): the env var, when set, is the default. */
  readonly fromEnv?: boolean;
  /** The validation of a config file value, env var, flag or library option. */
  readonly check: Check;
}

export type OptionTable = Readonly<Record<string, OptionEntry>>;

type ValueOf<E extends OptionEntry> = E['choices'] extends readonly (infer C)[]
  ? C
  : {
      string: string;
      number: number;
      boolean: boolean;
      /** One value or several (a list option given once in the environment is a single string). */
      list: string | string[];
      duration: string | number;
      size: string | number;
      json: unknown;
    }[E['type']];

type RequiredKeys<T extends OptionTable> = { [K in keyof T]: T[K]['required'] extends true ? K : never }[keyof T];

/** The input type of a program, derived from its table: `type DaemonInput = OptionsOf<typeof DAEMON>`. */
export type OptionsOf<T extends OptionTable> = { [K in RequiredKeys<T>]: ValueOf<T[K]> } & { [K in Exclude<keyof T, RequiredKeys<T>>]?: ValueOf<T[K]> };

/** The keys `withDefaults` always sets: those with a default that is neither the program's nor a required key's. */
export type DefaultedKeys<T extends OptionTable> = {
  [K in keyof T]: T[K] extends { default: unknown } ? (T[K] extends { defaultBy: 'program' } ? never : T[K]['required'] extends true ? never : K) : never;
}[keyof T];

/** What `withDefaults` returns: the input with every defaulted key set. */
export type Merged<T extends OptionTable> = OptionsOf<T> & { [K in DefaultedKeys<T>]-?: ValueOf<T[K]> };

/** Declares a table, keeping each entry's literal types (for OptionsOf). */
export function optionTable<const T extends OptionTable>(table: T): T {
  return table;
}

/** `dataDir` → `data-dir`. */
export function flagOf(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `dataDir` → `HAMSYNC_DATA_DIR`. */
export function envOf(name: string): string {
  return `HAMSYNC_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

/** An entry's default value now (a function default is called). */
export function defaultOf(entry: OptionEntry): unknown {
  return typeof entry.default === 'function' ? (entry.default as () => unknown)() : entry.default;
}

/** How a default reads in text: 16MiB, 30d, 1000000, ["#"]. */
export function showDefault(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
}

/** The --help line: the description, with "(default …)" when the program applies the default. */
export function helpText(entry: OptionEntry): string {
  const value = defaultOf(entry);
  return entry.defaultBy === 'program' && value !== undefined ? `${entry.describe} (default ${showDefault(value)})` : entry.describe;
}

/** The yargs options of a table, in its order (a `fromEnv` option's env var, when set, is its default). */
export function yargsOptions(table: OptionTable): Record<string, YargsOption> {
  const out: Record<string, YargsOption> = {};
  for (const [name, e] of Object.entries(table)) {
    const value = e.defaultBy === 'program' || e.defaultBy === 'merge' ? undefined : ((e.fromEnv ? process.env[envOf(name)] : undefined) ?? defaultOf(e));
    out[flagOf(name)] = {
      type: e.type === 'number' ? 'number' : e.type === 'boolean' ? 'boolean' : 'string',
      ...(e.type === 'list' ? { array: true } : {}),
      ...(value !== undefined ? { default: value } : {}),
      ...(e.required && value === undefined ? { demandOption: true } : {}),
      describe: helpText(e),
    };
  }
  return out;
}

/** The config file schema of a table: key → check. */
export function checksOf(table: OptionTable): Record<string, Check> {
  return Object.fromEntries(Object.entries(table).map(([name, e]) => [name, e.check]));
}

/**
 * The options given, checked and merged over the table's defaults once (in the manner of Aedes'
 * defaultOptions): an unknown key, or a value its check refuses, throws HAMSYNC_ERR_CONFIG
 * naming the key and the value. Keys applied by the program (`defaultBy: 'program'`) and
 * required ones get no default here.
 */
export function withDefaults<T extends OptionTable>(table: T, given: Readonly<Partial<OptionsOf<T>>>, unknown: (key: string) => never): Merged<T> {
  const out: Record<string, unknown> = {};
  for (const [name, e] of Object.entries(table)) {
    if (e.defaultBy !== 'program' && !e.required && e.default !== undefined) out[name] = defaultOf(e);
  }
  for (const [key, value] of Object.entries(given as Record<string, unknown>)) {
    if (value === undefined) continue;
    const e = table[key];
    if (!e) unknown(key);
    e.check(value, key);
    out[key] = value;
  }
  return out as Merged<T>;
}

/** The table's options among `argv` (yargs' camel-case keys), undefined ones left out. */
export function pick<T extends OptionTable>(table: T, argv: Readonly<Record<string, unknown>>): Partial<OptionsOf<T>> {
  return Object.fromEntries(Object.keys(table).filter((k) => argv[k] !== undefined).map((k) => [k, argv[k]])) as Partial<OptionsOf<T>>;
}

/** A byte count as a default reads: the largest binary unit it is a whole number of (16MiB, 320KiB). */
export function bytesText(bytes: number): string {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** A duration as a default reads: whole days (30d), else seconds (60s), else ms. */
export function msText(ms: number): string {
  if (ms >= 86_400_000 && ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
