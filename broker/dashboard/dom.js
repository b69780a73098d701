// Small DOM and formatting helpers shared by the panels (no framework: text only, never innerHTML).

/** An element with attributes (`class`, `data-*`, ...) and children (strings become text). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, String(value));
  }
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ''));
  return node;
}

/** Replaces a table body's rows; an empty list shows `emptyText` across `columns` cells. */
export function fill(tbody, rows, emptyText, columns) {
  if (rows.length === 0) rows = [el('tr', { class: 'empty' }, el('td', { colspan: columns }, emptyText))];
  tbody.replaceChildren(...rows);
}

/** A JSON value as short text. */
export function showValue(v) {
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/** A time (ms since the epoch) as local HH:MM:SS, with the date when it is not today. */
export function showTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(ms);
  const time = d.toLocaleTimeString([], { hour12: false });
  return d.toDateString() === new Date().toDateString() ? time : `${d.toISOString().slice(0, 10)} ${time}`;
}

/** A duration in ms as "4.2 s", "3 min 20 s", "2 h 5 min" or "3 d 4 h". */
export function showDuration(ms) {
  const s = Math.abs(ms) / 1000;
  const sign = ms < 0 ? '−' : '';
  if (s < 60) return `${sign}${s.toFixed(1)} s`;
  if (s < 3600) return `${sign}${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  if (s < 86400) return `${sign}${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${sign}${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}
