// The drift dashboard: wires the panels to the admin API and its event stream (docs/dashboard.md).
import { follow, getJson } from './api.js';
import { deferredPanel } from './deferred.js';
import { fleetTable } from './fleet.js';
import { keysPanel } from './keys.js';
import { quarantinePanel } from './quarantine.js';
import { skewPlot } from './skew.js';

const $ = (id) => document.getElementById(id);
const status = $('status');

const fleet = fleetTable($('fleet-table'), $('fleet-note'));
const skew = skewPlot($('skew-plot'));
/** A failed read shows in the status line (and not as an unhandled rejection). */
function failed(what) {
  return (err) => {
    status.dataset.state = 'down';
    status.textContent = `${what}: ${err.message}`;
  };
}

function run(what, promise) {
  promise.catch(failed(what));
}

const deferred = deferredPanel($('deferred-table'), $('applied-table'), failed('deferred'));
const quarantine = quarantinePanel($('quarantine-table'), $('quarantine-note'));
const keys = keysPanel($('key-prefix'), $('keys-table'), $('history-table'), $('history-title'), failed('keys'));

/** Everything read whole: at start and after each reconnect (`hello`). */
function loadAll() {
  run('fleet', getJson('/v1/fleet').then((view) => {
    fleet.update(view);
    skew.load(view.skewHistory);
    skew.devices(view.devices.map((d) => d.id));
  }));
  run('deferred', deferred.refresh());
  run('quarantine', quarantine.refresh());
  run('keys', keys.refresh());
}

follow({
  hello: loadAll,
  tick: (t) => {
    status.dataset.state = 'live';
    status.textContent = `live · hub clock ${new Date(t.now).toISOString().slice(11, 19)} UTC`;
    deferred.tick();
  },
  fleet: (view) => {
    fleet.update(view);
    skew.append(view.skewDelta);
    skew.devices(view.devices.map((d) => d.id));
  },
  queues: () => {
    run('deferred', deferred.refresh());
    run('quarantine', quarantine.refresh());
  },
  keys: (e) => keys.changed(e.rows, e.more),
  applied: (e) => deferred.applied(e.rows),
}, (state) => {
  status.dataset.state = state;
  if (state === 'down') status.textContent = 'disconnected; reconnecting…';
});
