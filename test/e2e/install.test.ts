/**
 * The documented install (docs/operations.md "Install"): `npm pack` in a checkout, then
 * `npm install -g ./hamsync-<version>.tgz`, here into a temp prefix. The pack runs in a copy of the
 * checkout (its prepack/prepare scripts rebuild dist/, which the running tests use). The install
 * takes the dependencies from npm's cache (--offline) and falls back to the registry when the
 * cache cannot serve them; the installed package has no devDependencies (no TypeScript).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { npmFreeEnv } from '../helpers/procs.js';
import { tempDir } from '../helpers/tmp.js';
import { skipUnlessTools } from '../helpers/tools.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion within `timeoutMs` (then SIGKILL); never throws for a non-zero exit. */
function run(cmd: string, args: string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: npmFreeEnv(), timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
      resolve({ code, stdout, stderr: `${stderr}${err && code === null ? `\n[${err.message}]` : ''}` });
    });
  });
}

const show = (r: Run): string => `exit ${String(r.code)}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`;

/** A copy of the checkout's sources (no dist/, no .git), with its node_modules linked. */
function copyCheckout(to: string): void {
  const skip = new Set(['node_modules', 'dist', '.git']);
  for (const name of fs.readdirSync(ROOT)) {
    if (skip.has(name) || name.endsWith('.tgz')) continue;
    fs.cpSync(path.join(ROOT, name), path.join(to, name), { recursive: true });
  }
  fs.symlinkSync(fs.realpathSync(path.join(ROOT, 'node_modules')), path.join(to, 'node_modules'));
}

test('npm pack builds a tarball with dist; npm install -g of it gives a working hamsync without devDependencies', { skip: skipUnlessTools('npm'), timeout: 600_000 }, async (t) => {
  const work = tempDir(t);
  const checkout = path.join(work, 'checkout');
  const prefix = path.join(work, 'prefix');
  fs.mkdirSync(checkout);
  copyCheckout(checkout);

  // The pack: prepack empties dist/, prepare compiles it again.
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], checkout, 240_000);
  assert.equal(pack.code, 0, `npm pack: ${show(pack)}`);
  const [info] = JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  assert.ok(info, pack.stdout);
  assert.equal(info.filename, `hamsync-${pkg.version}.tgz`);
  const files = info.files.map((f) => f.path);
  for (const f of ['package.json', 'README.md', 'dist/src/cli/main.js', 'dist/broker/server.js', 'dist/src/index.d.ts', 'systemd/hamsync.service', 'systemd/hamsync-broker.service', 'systemd/hamsync.yaml.example', 'dist/broker/dashboard/index.html', 'dist/broker/dashboard/app.js', 'docs/operations.md', 'devices/profiles/raspberry-pi.json']) {
    assert.ok(files.includes(f), `the tarball lacks ${f}`);
  }
  for (const f of files) assert.ok(!/^(src|broker|test|dist\/test)\//.test(f) && f !== 'tsconfig.json', `the tarball should not hold ${f}`);
  const tgz = path.join(work, info.filename);

  // The install: dependencies from npm's cache if it has them all, else from the registry.
  const common = ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tgz];
  let install = await run('npm', [...common, '--offline'], work, 120_000);
  if (install.code !== 0) {
    t.diagnostic(`offline install impossible (${/ENOTCACHED|only-if-cached/.test(install.stderr) ? 'a dependency is not in the npm cache' : install.stderr.split('\n')[0] ?? ''}); installing from the registry`);
    install = await run('npm', [...common, '--prefer-offline'], work, 300_000);
  }
  assert.equal(install.code, 0, `npm install -g: ${show(install)}`);

  const installed = path.join(prefix, 'lib', 'node_modules', 'hamsync');
  const bin = path.join(prefix, 'bin', 'hamsync');
  assert.ok(fs.existsSync(bin), `${bin} exists`);
  // The build and test tools stay out (@types/node may come in through a runtime dependency's types).
  for (const dev of ['typescript', 'eslint', 'typescript-eslint', 'fast-check', 'gun-legacy']) {
    assert.ok(dev in pkg.devDependencies, `${dev} is a devDependency`);
    assert.ok(!fs.existsSync(path.join(installed, 'node_modules', dev)), `devDependency ${dev} was installed`);
  }

  const version = await run(bin, ['--version'], work, 30_000);
  assert.equal(version.code, 0, show(version));
  assert.equal(version.stdout.trim(), pkg.version);

  const help = await run(bin, ['demo', '--help'], work, 30_000);
  assert.equal(help.code, 0, show(help));
  assert.match(help.stdout, /--keep-running/);

  // The runtime dependencies (lmdb's native binding among them) load: the demo runs to its end.
  const demo = await run(bin, ['demo', '--ahead', '1s'], work, 60_000);
  assert.equal(demo.code, 0, show(demo));
  assert.match(demo.stdout, /Done in [\d.]+ s\./);
  // The dashboard's files and uPlot are found in the installed package (the demo serves them).
  assert.match(demo.stdout, /Drift dashboard: http:\/\/127\.0\.0\.1:\d+\//);

  // Its prepare script is harmless where there is nothing to compile (and no TypeScript).
  const prepare = await run('npm', ['run', 'prepare'], installed, 60_000);
  assert.equal(prepare.code, 0, `npm run prepare in the installed package: ${show(prepare)}`);
});
