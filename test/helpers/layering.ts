/**
 * The import graph of src/, broker/ and devices/ (every import: static, type-only, re-exports
 * and dynamic `import()`, read with TypeScript's own pre-processor), and the layering rules of
 * docs/architecture.md: which folder may import which, and no cycles.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import ts from 'typescript';

/** Repository-relative paths ("src/sync/replica.ts") to the files each one imports. */
export type ImportGraph = Map<string, string[]>;

const ROOTS = ['src', 'broker', 'devices'];
const CORE = ['src/ham/', 'src/model/', 'src/store/', 'src/sync/', 'src/wire/', 'src/sign/'];
const PROGRAMS = ['broker/', 'devices/', 'src/daemon/', 'src/cli/', 'src/demo/'];
/** A program's entry point, and the programs that may import it. */
const ENTRIES: Record<string, readonly string[]> = {
  'broker/server.ts': ['src/cli/', 'src/demo/'],
  'src/daemon/daemon.ts': ['src/cli/', 'src/demo/'],
  'src/demo/scenario.ts': ['src/cli/'],
  'devices/index.ts': ['src/daemon/', 'src/cli/'],
};

function tsFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = posix.join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(root, path));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

/** The relative imports of one source text, resolved to repository paths (`x.js` is `x.ts`). */
export function importsOf(file: string, text: string): string[] {
  return ts
    .preProcessFile(text, true, true)
    .importedFiles.map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => posix.normalize(posix.join(posix.dirname(file), spec)).replace(/\.js$/, '.ts'));
}

/** The import graph of the repository at `root`. */
export function importGraph(root: string): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of ROOTS.flatMap((r) => tsFiles(root, r))) graph.set(file, importsOf(file, readFileSync(join(root, file), 'utf8')));
  return graph;
}

const programOf = (path: string): string | undefined => PROGRAMS.find((p) => path.startsWith(p));

/** Why `from` must not import `to`, or undefined when it may. */
export function wrongWay(from: string, to: string): string | undefined {
  const source = programOf(from);
  const target = programOf(to);
  if (target === undefined || source === target) return undefined;
  if (source === undefined) {
    const what = CORE.some((c) => from.startsWith(c)) ? 'the core' : 'a shared library';
    return `${from} (${what}) imports the program ${to}`;
  }
  const allowed = ENTRIES[to];
  if (allowed?.includes(source)) return undefined;
  return allowed ? `${from} may not import the program ${to}` : `${from} imports ${to}, an internal of another program (only its entry point may be imported)`;
}

/** Every wrong-way import of the graph. */
export function wrongWayImports(graph: ImportGraph): string[] {
  const out: string[] = [];
  for (const [from, tos] of graph) for (const to of tos) {
    const why = wrongWay(from, to);
    if (why) out.push(why);
  }
  return out;
}

/** The import cycles (strongly connected components of more than one file, or a file importing itself), each sorted. */
export function importCycles(graph: ImportGraph): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.includes(v)) cycles.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** The repository root, from a compiled test file's URL (dist/test/<dir>/x.js). */
export function repoRoot(url: string): string {
  return relative(process.cwd(), join(dirname(new URL(url).pathname), '../../..')) || '.';
}
