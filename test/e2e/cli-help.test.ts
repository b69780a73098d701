/**
 * The command line's help: every command's --help exits 0 and shows at least one example of
 * itself; --version; unknown commands and missing arguments exit non-zero without a stack trace.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { runCli } from '../helpers/procs.js';

const KNOWN = ['broker', 'daemon', 'put', 'get', 'deferred', 'history', 'status'];

/** Command names from the top-level help's "Commands:" section ("config check" for nested ones). */
function commandsOf(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1]?.split(/^\S/m)[0] ?? '';
  const names: string[] = [];
  for (const line of section.split('\n')) {
    const m = /^ {2}hamsync ((?:[a-z][\w-]*)(?: [a-z][\w-]*)*)/.exec(line);
    if (m?.[1]) names.push(m[1]);
  }
  return names;
}

test('CLI: --help of every command exits 0 and shows at least one example', { timeout: 30_000 }, async () => {
  const top = await runCli(['--help']);
  assert.equal(top.code, 0, top.stderr);
  const commands = commandsOf(top.stdout);
  for (const c of KNOWN) assert.ok(commands.includes(c), `top-level help lists ${c}: ${JSON.stringify(commands)}`);
  const results = await Promise.all(commands.map(async (c) => ({ c, r: await runCli([...c.split(' '), '--help']) })));
  for (const { c, r } of results) {
    assert.equal(r.code, 0, `hamsync ${c} --help exited ${String(r.code)}: ${r.stderr}`);
    assert.equal(r.stderr, '', `hamsync ${c} --help writes nothing on stderr`);
    const examples = r.stdout.split(/^Examples:$/m)[1];
    assert.ok(examples, `hamsync ${c} --help has an Examples section:\n${r.stdout}`);
    assert.match(examples, new RegExp(`^ {2}hamsync ${c}\\b`, 'm'), `hamsync ${c} --help shows an example of itself:\n${examples}`);
  }
});

test('CLI: --version, unknown commands and missing arguments', { timeout: 30_000 }, async () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const [version, unknown, none, noKey] = await Promise.all([runCli(['--version']), runCli(['frobnicate']), runCli([]), runCli(['get', '--http', '127.0.0.1:1'])]);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), pkg.version);
  for (const [what, r] of [['an unknown command', unknown], ['no command', none], ['get without a key', noKey]] as const) {
    assert.notEqual(r.code, 0, `${what} must exit non-zero`);
    assert.doesNotMatch(r.stderr, /^\s+at /m, `${what}: no stack trace`);
    assert.match(r.stderr, /\S/, `${what}: says why on stderr`);
  }
});

