/**
 * Layering (docs/architecture.md), on every import of src/, broker/ and devices/ (dynamic ones
 * too, which ESLint's no-restricted-imports does not see): the core and the shared libraries
 * never import a program, programs take each other only through entry points, and there is no
 * import cycle. The checker itself is tried on made-up graphs, so a rule that stops firing fails.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { importCycles, importGraph, importsOf, repoRoot, wrongWayImports, type ImportGraph } from '../helpers/layering.js';

const graph = importGraph(repoRoot(import.meta.url));

test('layering: the repository has no wrong-way import', () => {
  assert.ok(graph.size > 150, `read the sources (${graph.size} files)`);
  assert.deepEqual(wrongWayImports(graph), []);
});

test('layering: the repository has no import cycle (type-only imports included)', () => {
  assert.deepEqual(importCycles(graph), []);
});

test('layering: the checker reads every kind of import', () => {
  const text = [
    "import type { A } from './a.js';",
    "import { B } from '../b/b.js';",
    "export { C } from './c.js';",
    "const d = await import('../../broker/server.js');",
    "import 'node:fs';",
  ].join('\n');
  assert.deepEqual(importsOf('src/sync/x.ts', text), ['src/sync/a.ts', 'src/b/b.ts', 'src/sync/c.ts', 'broker/server.ts']);
});

test('layering: the checker flags wrong-way imports and cycles', () => {
  const bad: ImportGraph = new Map([
    ['src/sync/replica.ts', ['src/daemon/options.ts']],
    ['src/config/schema.ts', ['devices/index.ts']],
    ['broker/server.ts', ['src/daemon/daemon.ts']],
    ['src/cli/broker.ts', ['broker/hub.ts', 'broker/server.ts']],
    ['src/daemon/clock-guard.ts', ['devices/sources/gpsd-tpv.ts', 'devices/index.ts']],
    ['src/model/keys.ts', ['src/model/limits.ts']],
    ['src/model/limits.ts', ['src/model/keys.ts']],
  ]);
  assert.deepEqual(wrongWayImports(bad), [
    'src/sync/replica.ts (the core) imports the program src/daemon/options.ts',
    'src/config/schema.ts (a shared library) imports the program devices/index.ts',
    'broker/server.ts may not import the program src/daemon/daemon.ts',
    'src/cli/broker.ts imports broker/hub.ts, an internal of another program (only its entry point may be imported)',
    'src/daemon/clock-guard.ts imports devices/sources/gpsd-tpv.ts, an internal of another program (only its entry point may be imported)',
  ]);
  assert.deepEqual(importCycles(bad), [['src/model/keys.ts', 'src/model/limits.ts']]);
});
