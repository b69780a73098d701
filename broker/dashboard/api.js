// The admin API as the page uses it: JSON reads, JSON actions, the event stream and the hub's clock.

/** An error answer of the admin API: {"error":{"code","message"}}. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code;
  }
}

async function answer(res) {
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

export async function getJson(path) {
  return answer(await fetch(path, { headers: { accept: 'application/json' }, cache: 'no-store' }));
}

/** A POST with a JSON body: the content type the admin API requires of every action (its cross-site guard). */
export async function postJson(path, body) {
  return answer(await fetch(path, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' }, body: JSON.stringify(body) }));
}

let tick = { now: Date.now(), at: performance.now() };

/** The hub's clock now, estimated from its last `tick` (states and due times are on this clock). */
export function hubNow() {
  return tick.now + (performance.now() - tick.at);
}

/**
 * Follows GET /v1/events: `handlers[name](data)` for each event; `onState('live'|'down')`.
 * EventSource reconnects by itself (the server asks for 2 s); `hello` comes again after each reconnect.
 */
export function follow(handlers, onState) {
  const source = new EventSource('/v1/events');
  const clock = (data) => {
    tick = { now: data.now, at: performance.now() };
  };
  source.addEventListener('open', () => onState('live'));
  source.addEventListener('error', () => onState('down'));
  for (const name of ['hello', 'tick', 'fleet', 'queues', 'keys', 'applied']) {
    source.addEventListener(name, (event) => {
      const data = JSON.parse(event.data);
      if (name === 'hello' || name === 'tick') clock(data);
      handlers[name]?.(data);
    });
  }
  return source;
}
