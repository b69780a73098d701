/**
 * A strict parser of the Prometheus text exposition format (0.0.4), for tests: every line must
 * be a HELP, a TYPE, a blank line or a sample of the family last declared; names, labels,
 * escapes and values must be well-formed; a family is declared once; histograms must have
 * cumulative buckets ending in le="+Inf" equal to _count, and a _sum. Anything else throws,
 * naming the line.
 */
export type Labels = Record<string, string>;
export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}
export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export function parsePromText(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('the exposition must end with a newline');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1} ${JSON.stringify(line.slice(0, 120))}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) {
        if (/^# (HELP|TYPE)\b/.test(line)) throw new Error(`malformed ${where}`);
        return; // a comment
      }
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name at ${where}`);
      let f = families.get(name);
      if (f && f !== current) throw new Error(`family ${name} declared twice (${where})`);
      if (!f) {
        f = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, f);
        current = f;
      }
      if (kind === 'HELP') f.help = unescape(rest, false, where);
      else {
        if (!TYPES.has(rest)) throw new Error(`unknown type at ${where}`);
        if (f.samples.length > 0) throw new Error(`TYPE after samples at ${where}`);
        f.type = rest as Family['type'];
      }
      return;
    }
    const s = parseSample(line, where);
    if (!current || !belongs(current, s.name)) throw new Error(`sample ${s.name} outside its family's block at ${where}`);
    current.samples.push(s);
  });
  for (const f of families.values()) checkFamily(f);
  return families;
}

function belongs(f: Family, name: string): boolean {
  if (name === f.name) return f.type !== 'histogram';
  if (f.type === 'histogram') return name === `${f.name}_bucket` || name === `${f.name}_sum` || name === `${f.name}_count`;
  if (f.type === 'summary') return name === `${f.name}_sum` || name === `${f.name}_count`;
  return false;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) throw new Error(`malformed sample at ${where}`);
  const [, name, braces, raw] = m as unknown as [string, string, string | undefined, string];
  return { name, labels: braces ? parseLabels(braces.slice(1, -1), where) : {}, value: parseValue(raw, where) };
}

function parseLabels(body: string, where: string): Labels {
  const labels: Labels = {};
  let i = 0;
  while (i < body.length) {
    const eq = body.indexOf('=', i);
    if (eq < 0) throw new Error(`bad labels at ${where}`);
    const name = body.slice(i, eq);
    if (!LABEL.test(name) || name in labels) throw new Error(`bad or repeated label name ${JSON.stringify(name)} at ${where}`);
    if (body[eq + 1] !== '"') throw new Error(`unquoted label value at ${where}`);
    let j = eq + 2;
    let raw = '';
    for (;;) {
      if (j >= body.length) throw new Error(`unterminated label value at ${where}`);
      const c = body[j] as string;
      if (c === '\\') {
        raw += body.slice(j, j + 2);
        j += 2;
        continue;
      }
      if (c === '"') break;
      raw += c;
      j++;
    }
    labels[name] = unescape(raw, true, where);
    j++;
    if (j < body.length) {
      if (body[j] !== ',') throw new Error(`expected , between labels at ${where}`);
      j++;
    }
    i = j;
  }
  return labels;
}

function unescape(s: string, quotes: boolean, where: string): string {
  return s.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    if (c === '"' && quotes) return '"';
    throw new Error(`bad escape \\${c} at ${where}`);
  });
}

function parseValue(raw: string, where: string): number {
  if (raw === '+Inf' || raw === 'Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  if (raw === 'NaN') return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`bad value ${JSON.stringify(raw)} at ${where}`);
  return Number(raw);
}

function checkFamily(f: Family): void {
  if (f.type === 'counter') {
    for (const s of f.samples) if (!(s.value >= 0)) throw new Error(`counter ${s.name} is ${s.value}`);
  }
  if (f.type !== 'histogram') return;
  const groups = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name === `${f.name}_count`);
    if (!count || !samples.some((s) => s.name === `${f.name}_sum`)) throw new Error(`histogram ${f.name} lacks _sum or _count`);
    let last = -Infinity;
    let prev = 0;
    for (const b of buckets) {
      const le = parseValue(b.labels.le ?? 'missing', `${f.name} bucket`);
      if (!(le > last) || b.value < prev) throw new Error(`histogram ${f.name} buckets are not cumulative in order`);
      last = le;
      prev = b.value;
    }
    if (last !== Infinity || prev !== count.value) throw new Error(`histogram ${f.name}: the +Inf bucket must equal _count`);
  }
}

/** The value of one sample: `name` with exactly these labels (throws when absent). */
export function valueOf(families: Map<string, Family>, name: string, labels: Labels = {}): number {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
}
