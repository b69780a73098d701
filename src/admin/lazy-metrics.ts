import type { Registry } from 'prom-client';
import type { Route } from './http-kit.js';

/**
 * GET /metrics with the registry built on the first scrape: prom-client (and what it pulls in)
 * is loaded only when someone asks, which keeps it out of an unscraped daemon's memory
 * (docs/operations.md "Raspberry Pi budget"). The process metrics (GC durations, event loop
 * lag) are collected from that first scrape on.
 */
export function lazyMetricsRoute(build: () => Promise<Registry>): Route {
  let registry: Promise<Registry> | undefined;
  return {
    method: 'GET',
    path: '/metrics',
    handle: async ({ res }) => {
      registry ??= build();
      const r = await registry;
      const text = await r.metrics();
      res.writeHead(200, { 'content-type': r.contentType, 'content-length': Buffer.byteLength(text) });
      res.end(text);
    },
  };
}
