// Keys: the live view filtered by prefix (value, state, source), and one key's history with outcomes.
import { getJson } from './api.js';
import { el, fill, showTime, showValue } from './dom.js';

export function keysPanel(input, table, historyTable, historyTitle, onError) {
  let prefix = '';
  let selected;
  let timer;

  async function refresh() {
    const { rows, more } = await getJson(`/v1/keys?limit=200&prefix=${encodeURIComponent(prefix)}`);
    const trs = rows.map((r) => {
      const tr = el('tr', { class: r.k === selected ? 'clickable selected' : 'clickable', 'data-key': r.k },
        el('td', {}, r.k), el('td', { class: 'value' }, showValue(r.v)), el('td', {}, showTime(r.s)), el('td', {}, r.src));
      tr.addEventListener('click', () => pick(r.k));
      return tr;
    });
    if (more) trs.push(el('tr', { class: 'empty' }, el('td', { colspan: 4 }, 'more keys: narrow the prefix')));
    fill(table.tBodies[0], trs, prefix === '' ? 'no keys yet' : 'no key starts with this prefix', 4);
  }

  async function history() {
    if (selected === undefined) return;
    const { rows } = await getJson(`/v1/history/${encodeURIComponent(selected)}?limit=200`);
    historyTitle.replaceChildren('History of ', el('code', {}, selected), ' ', el('small', {}, `${rows.length} updates, oldest first`));
    fill(historyTable.tBodies[0], rows.map((r) =>
      el('tr', { 'data-outcome': r.outcome },
        el('td', {}, showTime(r.s)), el('td', {}, r.src), el('td', { class: 'value' }, showValue(r.v)), el('td', {}, r.deferred ? `${r.outcome} (was deferred)` : r.outcome))), 'no history', 4);
  }

  function pick(key) {
    selected = key;
    for (const tr of table.tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.key === key);
    history().catch(onError);
  }

  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      prefix = input.value;
      refresh().catch(onError);
    }, 300);
  });

  return {
    refresh,
    /** Keys whose live value changed (the `keys` event): read again what is on screen. */
    changed(list, more) {
      if (more > 0 || list.some((r) => r.k.startsWith(prefix))) refresh().catch(onError);
      if (selected !== undefined && (more > 0 || list.some((r) => r.k === selected))) history().catch(onError);
    },
  };
}
