import type { Registry } from 'prom-client';
import { cached, counterOf, countersFamily, gaugeOf, labelled, newRegistry, sumOf } from '../admin/metrics-kit.js';
import type { Daemon } from './daemon.js';

/**
 * The daemon's Prometheus metrics (docs/metrics.md), read at scrape time from its status and
 * counters; nothing is observed on its put path. Before the daemon has started, only the
 * process metrics have values.
 */
export function daemonMetrics(daemon: () => Daemon | undefined): Registry {
  const r = newRegistry();
  const counters = () => {
    const d = daemon();
    return d ? [d.counters, d.replica.counters] : [];
  };
  const on = <T>(f: (d: Daemon) => T): (() => T | undefined) => () => {
    const d = daemon();
    return d ? f(d) : undefined;
  };
  gaugeOf(r, 'hamsync_link_up', '1 while the MQTT link to the broker is connected.', on((d) => (d.connected ? 1 : 0)));
  counterOf(r, 'hamsync_link_connects_total', 'Connections to the broker made (the first one and every reconnect).', sumOf(counters, 'link.connects'));
  counterOf(r, 'hamsync_link_reconnect_attempts_total', 'Connection attempts (the first one included).', sumOf(counters, 'link.attempts'));
  counterOf(r, 'hamsync_link_failures_total', 'Connection attempts that failed (refused CONNACKs included).', sumOf(counters, 'link.failed', 'link.refused'));
  const outbox = cached(250, () => {
    const d = daemon();
    return d ? { updates: d.replica.outbox().queuedUpdates, oldest: oldestAgeS(d) } : undefined;
  });
  gaugeOf(r, 'hamsync_outbox_updates', 'Updates in the outbox, not yet acknowledged by the broker.', () => outbox()?.updates);
  gaugeOf(r, 'hamsync_outbox_max_updates', 'The outbox cap (local puts are refused beyond it).', on((d) => d.config.outboxMax));
  gaugeOf(r, 'hamsync_outbox_oldest_age_seconds', 'Age of the oldest update in the outbox (by its state); 0 when empty.', () => outbox()?.oldest ?? 0);
  const queues = cached(250, () => daemon()?.replica.queues().totals);
  gaugeOf(r, 'hamsync_deferred_updates', 'Updates waiting for the clock (deferred queue).', () => queues()?.deferred);
  gaugeOf(r, 'hamsync_quarantined_updates', 'Updates held in quarantine (stamped beyond the horizon).', () => queues()?.quarantined);
  const sync = cached(250, () => daemon()?.syncStatus());
  // Labelled by the hub's id, so they are absent (not 0) before the first page.
  const hubPos = (f: (s: NonNullable<ReturnType<typeof sync>>) => number | null) => (): [string, number | null][] => {
    const s = sync();
    return s?.hub ? [[s.hub.id, f(s)]] : [];
  };
  labelled(r, 'gauge', 'hamsync_sync_position', 'Position stored in the hub\'s change log (sync v2).', 'hub', hubPos((s) => s.position));
  labelled(r, 'gauge', 'hamsync_sync_head', 'The hub\'s change log head as of the last page.', 'hub', hubPos((s) => s.head));
  labelled(r, 'gauge', 'hamsync_sync_backlog_entries', 'Change log entries between the stored position and the head.', 'hub', hubPos((s) => s.backlog));
  labelled(r, 'gauge', 'hamsync_gps_clock_offset_seconds', 'GPS time minus the system clock, from a running gpsd source (absent without one).', 'source', () => {
    const d = daemon();
    return d && d.gpsOffsetMs !== null ? [['gpsd', d.gpsOffsetMs / 1000]] : [];
  });
  countersFamily(r, 'hamsync_messages_rejected_total', 'Messages from the broker rejected, by error code.', 'code', 'rejected.', counters);
  countersFamily(r, 'hamsync_daemon_events_total', 'Every named counter of the daemon (as in /v1/status counters), by name.', 'event', '', counters);
  return r;
}

/** Seconds since the state of the oldest queued update (the first outbox message's smallest state). */
function oldestAgeS(d: Daemon): number | undefined {
  const outbox = d.replica.outbox();
  // Acknowledged entries leave the count at once, the store when their removal commits.
  if (outbox.queuedMessages === 0) return undefined;
  for (const e of outbox.entries(0, 1)) {
    try {
      const states = (JSON.parse(e.payload) as { u: { s: number }[] }).u.map((u) => u.s);
      return Math.max(0, d.replica.now() - Math.min(...states)) / 1000;
    } catch {
      return undefined;
    }
  }
  return undefined;
}
