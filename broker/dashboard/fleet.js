// Fleet table: one row per device, sortable by any column; skew beyond the threshold highlighted.
import { el, fill, showDuration, showTime } from './dom.js';
import { hubNow } from './api.js';

const COLUMNS = [
  { key: 'id', label: 'device', show: (d) => d.id },
  { key: 'online', label: 'online', show: (d) => (d.online ? 'yes' : 'no'), cls: (d) => (d.online ? 'online-yes' : 'online-no') },
  { key: 'lastSeen', label: 'last seen', show: (d) => (d.lastSeen === null ? 'never' : `${showDuration(hubNow() - d.lastSeen)} ago`) },
  { key: 'skewS', label: 'skew (s)', show: (d) => (d.skewS === null ? '—' : signed(d.skewS)) },
  { key: 'gpsOffsetMs', label: 'GPS offset (s)', show: (d) => (d.gpsOffsetMs === null ? '—' : signed(d.gpsOffsetMs / 1000)) },
  { key: 'deferred', label: 'deferred', show: (d) => d.deferred },
  { key: 'earliestDue', label: 'next due', show: (d) => showTime(d.earliestDue) },
  { key: 'quarantined', label: 'quarantined', show: (d) => d.quarantined },
  { key: 'rateRefusals', label: 'rate refusals', show: (d) => d.rateRefusals },
];

function signed(x) {
  return `${x > 0 ? '+' : ''}${x.toFixed(2)}`;
}

/** Orders by a column: nulls last whatever the direction, then by device id. */
function compare(key, dir) {
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === null && y !== null) return 1;
    if (y === null && x !== null) return -1;
    const c = x === y ? 0 : x < y ? -1 : 1;
    return c !== 0 ? c * dir : a.id < b.id ? -1 : 1;
  };
}

export function fleetTable(table, note) {
  let view = { devices: [], skewThresholdS: Infinity };
  let sort = { key: 'skewS', dir: -1 };
  const head = el('tr');
  for (const c of COLUMNS) {
    const th = el('th', { class: 'sortable', 'data-key': c.key, scope: 'col' }, c.label);
    th.addEventListener('click', () => {
      sort = { key: c.key, dir: sort.key === c.key ? -sort.dir : 1 };
      render();
    });
    head.append(th);
  }
  table.tHead.replaceChildren(head);

  function render() {
    for (const th of head.children) th.setAttribute('aria-sort', th.dataset.key === sort.key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    const limit = view.skewThresholdS;
    const rows = [...view.devices].sort(compare(sort.key, sort.dir)).map((d) => {
      const beyond = d.skewS !== null && Math.abs(d.skewS) > limit;
      return el('tr', { 'data-device': d.id, class: beyond ? 'beyond' : undefined, title: beyond ? `clock skew beyond ±${limit} s` : undefined },
        ...COLUMNS.map((c) => el('td', { class: c.cls?.(d) }, c.show(d))));
    });
    fill(table.tBodies[0], rows, 'no device seen yet', COLUMNS.length);
    note.textContent = `${view.devices.length} devices · highlighted: skew beyond ±${limit} s`;
  }

  return {
    update(next) {
      view = next;
      render();
    },
  };
}
