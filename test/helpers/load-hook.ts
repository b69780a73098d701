/**
 * Preloaded into a CLI child (`NODE_OPTIONS=--import=<this file>`, see loadHookEnv()) by tests
 * that check which modules a program loads: every module the ESM loader loads (our files and the
 * packages we import; not what a CommonJS package requires inside itself) is appended, one URL a
 * line, to the file named by HAMSYNC_TEST_LOADED.
 */
import { appendFileSync } from 'node:fs';
import { register } from 'node:module';
import { isMainThread } from 'node:worker_threads';

const out = process.env.HAMSYNC_TEST_LOADED;

// The hooks run on a loader thread, which loads this file again (not as the main thread).
if (isMainThread && out) register(import.meta.url);

export async function load(url: string, context: unknown, next: (url: string, context: unknown) => Promise<unknown>): Promise<unknown> {
  if (out && !url.startsWith('node:')) appendFileSync(out, `${url}\n`);
  return next(url, context);
}

/** The environment that makes a CLI child record the modules it loads in `file`. */
export function loadHookEnv(file: string): NodeJS.ProcessEnv {
  const hook = new URL('./load-hook.js', import.meta.url).href;
  return { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${hook}`.trim(), HAMSYNC_TEST_LOADED: file };
}
