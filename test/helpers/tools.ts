/**
 * System tools some tests need (gpsd, faketime, chromium, redis-server, mosquitto, mosquitto_sub, openssl,
 * systemd-analyze, setpriv, npm). Locally a test whose tool is missing is skipped with the reason and the
 * Debian package that brings it; with HAMSYNC_NO_SKIP=1 (set by .ci/run) a missing tool fails
 * the test instead, so CI never passes by skipping.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Each tool: how to find it and the Debian packages that install it. */
const TOOLS = {
  gpsfake: { paths: [], packages: 'gpsd gpsd-clients' },
  gpsd: { paths: ['/usr/sbin/gpsd', '/usr/local/sbin/gpsd'], packages: 'gpsd' },
  faketime: { paths: ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1'], packages: 'faketime' },
  chromium: { paths: ['/usr/bin/chromium'], packages: 'chromium' },
  'redis-server': { paths: ['/usr/bin/redis-server'], packages: 'redis-server' },
  mosquitto: { paths: ['/usr/sbin/mosquitto'], packages: 'mosquitto' },
  mosquitto_sub: { paths: ['/usr/bin/mosquitto_sub'], packages: 'mosquitto-clients' },
  openssl: { paths: [], packages: 'openssl' },
  'systemd-analyze': { paths: [], packages: 'systemd' },
  setpriv: { paths: ['/usr/bin/setpriv'], packages: 'util-linux' },
  npm: { paths: [], packages: 'npm' },
} as const;

export type Tool = keyof typeof TOOLS;

/** A tool's spec; a name not in TOOLS (tests of this file) is looked up on PATH, its package named like it. */
function spec(tool: Tool): { readonly paths: readonly string[]; readonly packages: string } {
  return Object.hasOwn(TOOLS, tool) ? TOOLS[tool] : { paths: [], packages: tool };
}

const found = new Map<Tool, boolean>();

/** Whether `tool` is on this machine (PATH or its usual location). */
export function hasTool(tool: Tool): boolean {
  let ok = found.get(tool);
  if (ok === undefined) {
    ok = spec(tool).paths.some((p) => existsSync(p)) || spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' }).status === 0;
    found.set(tool, ok);
  }
  return ok;
}

/** True when CI asked that no test be skipped for a missing tool. */
export function noSkip(): boolean {
  return process.env.HAMSYNC_NO_SKIP === '1';
}

/**
 * For a test's `skip` option: false when every tool is present, else the reason (the test is
 * skipped and the reason printed). Under HAMSYNC_NO_SKIP=1 a missing tool throws instead, which
 * fails the test file: CI installs every tool, so a missing one is a setup error there.
 */
export function skipUnlessTools(...tools: Tool[]): string | false {
  const missing = tools.filter((t) => !hasTool(t));
  if (missing.length === 0) return false;
  const packages = [...new Set(missing.map((t) => spec(t).packages))].join(' ');
  const reason = `needs ${missing.join(', ')}: apt-get install ${packages}`;
  if (noSkip()) throw new Error(`HAMSYNC_NO_SKIP=1 and a required tool is missing: ${reason}`);
  return reason;
}

/** The libfaketime preload library, or undefined. */
export function libfaketime(): string | undefined {
  return TOOLS.faketime.paths.find((p) => existsSync(p));
}
