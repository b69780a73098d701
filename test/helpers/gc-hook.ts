/**
 * Preloaded into a CLI child by tests that measure its memory (`NODE_OPTIONS="--expose-gc
 * --import=<this file>"`, see gcHookEnv() in v2.ts): on SIGUSR2 the child runs full GCs, lets
 * the allocator settle, and prints `{"gc":<n>}` on stdout, so a reading of /proc/<pid>/status
 * after that line is of live memory, not garbage.
 */
const gc = (globalThis as { gc?: () => void }).gc;
let n = 0;

if (gc) {
  process.on('SIGUSR2', () => {
    void (async () => {
      for (let i = 0; i < 3; i++) {
        gc();
        await new Promise((r) => setTimeout(r, 50));
      }
      process.stdout.write(`${JSON.stringify({ gc: ++n })}\n`);
    })();
  });
}
