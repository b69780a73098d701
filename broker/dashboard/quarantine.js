// Quarantine: updates stamped beyond the horizon, each with release and drop buttons (the admin API's
// POST /v1/quarantine/release and /drop, sent as JSON as the API requires).
import { getJson, postJson } from './api.js';
import { el, fill, showTime, showValue } from './dom.js';

export function quarantinePanel(table, note) {
  async function refresh() {
    const { rows } = await getJson('/v1/quarantine?limit=200');
    fill(table.tBodies[0], rows.map((r) => {
      const release = el('button', { class: 'release', type: 'button' }, 'release');
      const drop = el('button', { class: 'drop', type: 'button' }, 'drop');
      release.addEventListener('click', () => act('release', r, [release, drop]));
      drop.addEventListener('click', () => act('drop', r, [release, drop]));
      return el('tr', { 'data-key': r.k, 'data-source': r.src },
        el('td', {}, r.k), el('td', {}, r.src), el('td', { class: 'value' }, showValue(r.v)), el('td', {}, showTime(r.s)), el('td', {}, release, drop));
    }), 'nothing quarantined', 5);
  }

  async function act(what, row, buttons) {
    for (const b of buttons) b.disabled = true;
    const selector = { sources: [row.src], keys: [row.k] };
    try {
      const report = await postJson(`/v1/quarantine/${what}`, selector);
      note.textContent = what === 'release'
        ? `released ${report.released} update(s) of ${row.k} from ${row.src}: ${report.resolved} resolved now, ${report.deferred} deferred`
        : `dropped ${report.dropped} update(s) of ${row.k} from ${row.src}`;
    } catch (err) {
      note.textContent = `${what} failed: ${err.message}`;
      for (const b of buttons) b.disabled = false;
    }
    await refresh().catch((err) => {
      note.textContent = `${note.textContent} (reading the quarantine again failed: ${err.message})`;
    });
  }

  return { refresh };
}
