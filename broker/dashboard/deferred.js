// Deferred: updates waiting for the hub's clock, each with a live countdown to its due time; once
// one has left the queue it moves to "applied" (or "resolved", if no applied event named it: it lost to a newer value).
import { getJson, hubNow } from './api.js';
import { el, fill, showDuration, showTime, showValue } from './dom.js';

const APPLIED_KEEP = 12;
const idOf = (r) => `${r.s}|${r.k}|${r.src}`;

export function deferredPanel(waitingTable, appliedTable, onError) {
  let rows = new Map(); // id -> row (GET /v1/deferred)
  const appliedIds = new Set(); // ids named by `applied` events not yet seen leaving
  const done = []; // newest first
  let loading = false;
  let again = false;

  async function refresh() {
    if (loading) {
      again = true;
      return;
    }
    loading = true;
    try {
      const { rows: list } = await getJson('/v1/deferred?limit=500');
      const next = new Map(list.map((r) => [idOf(r), r]));
      for (const [id, r] of rows) {
        if (next.has(id)) continue;
        done.unshift({ ...r, outcome: appliedIds.delete(id) ? 'applied' : 'resolved', at: hubNow() });
      }
      done.length = Math.min(done.length, APPLIED_KEEP);
      rows = next;
      renderDone();
      countdown();
    } finally {
      loading = false;
      if (again) {
        again = false;
        refresh().catch(onError);
      }
    }
  }

  function countdown() {
    const now = hubNow();
    fill(waitingTable.tBodies[0], [...rows.values()].map((r) =>
      el('tr', { 'data-key': r.k, 'data-source': r.src },
        el('td', {}, r.k), el('td', {}, r.src), el('td', { class: 'value' }, showValue(r.v)),
        el('td', { class: 'countdown', 'data-due': r.s }, r.s > now ? showDuration(r.s - now) : 'due'))), 'nothing waits', 4);
  }

  function renderDone() {
    fill(appliedTable.tBodies[0], done.map((r) =>
      el('tr', { 'data-key': r.k, 'data-source': r.src, 'data-outcome': r.outcome },
        el('td', {}, r.k), el('td', {}, r.src), el('td', { class: 'value' }, showValue(r.v)), el('td', {}, r.outcome), el('td', {}, showTime(r.at)))), 'none yet', 5);
  }

  setInterval(countdown, 200);
  return {
    refresh,
    /** Deferred updates the hub applied (the `applied` event); the list is read again to move them. */
    applied(list) {
      for (const r of list) appliedIds.add(idOf(r));
      if (appliedIds.size > 1000) appliedIds.clear();
      refresh().catch(onError);
    },
    /** On each tick: read the queue again when something in it is due (at most once a tick). */
    tick() {
      const now = hubNow();
      for (const r of rows.values()) if (r.s <= now) return void refresh().catch(onError);
    },
  };
}
