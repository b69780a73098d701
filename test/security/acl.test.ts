/**
 * The ACL matrix on broker/acl.ts: every role against every topic class, publish and subscribe,
 * as one table; then the corners (wildcards, namespaces, client ids).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canPublish, canSubscribe, canUseClientId, type Principal } from '../../broker/acl.js';

const device: Principal = { role: 'device', id: 'pi-7', ns: new Set(['default']) };
const observer: Principal = { role: 'observer', id: 'dash', ns: new Set(['default']) };
const admin: Principal = { role: 'admin', id: 'root' };
const anyNsDevice: Principal = { role: 'device', id: 'pi-7' };

type Row = [what: string, topic: string, device: boolean, observer: boolean, admin: boolean];

// Publish topics (never wildcards).
const PUBLISH: Row[] = [
  ['own put', 'hamsync/default/put/pi-7', true, false, true],
  ['other device put', 'hamsync/default/put/pi-8', false, false, true],
  ['own put, other ns', 'hamsync/other/put/pi-7', false, false, true],
  ['own sync/req', 'hamsync/default/sync/req/pi-7', true, false, true],
  ['other sync/req', 'hamsync/default/sync/req/pi-8', false, false, true],
  ['own sync/res', 'hamsync/default/sync/res/pi-7', false, false, true],
  ['other sync/res', 'hamsync/default/sync/res/pi-8', false, false, true],
  ['own sync/ack', 'hamsync/default/sync/ack/pi-7', true, false, true],
  ['other sync/ack', 'hamsync/default/sync/ack/pi-8', false, false, true],
  ['sync/ack, extra level', 'hamsync/default/sync/ack/pi-7/x', false, false, true],
  ['hub announcement', 'hamsync/default/hub', false, false, true],
  ['own presence', 'hamsync/default/presence/pi-7', true, false, true],
  ['other presence', 'hamsync/default/presence/pi-8', false, false, true],
  ['state', 'hamsync/default/state/pi-7/cpu', false, false, true],
  ['replay', 'hamsync/default/replay/s1/pi-7/cpu', false, false, true],
  ['put, extra level', 'hamsync/default/put/pi-7/x', false, false, true],
  ['unknown hamsync kind', 'hamsync/default/foo/pi-7', false, false, true],
  ['outside hamsync', 'plain/topic', false, false, true],
  ['$SYS', '$SYS/broker/uptime', false, false, false],
  ['$ other', '$share/x', false, false, false],
];

// Subscribe filters.
const SUBSCRIBE: Row[] = [
  ['all put', 'hamsync/default/put/+', true, false, true],
  ['one put', 'hamsync/default/put/pi-8', true, false, true],
  ['put #', 'hamsync/default/put/#', false, false, true],
  ['put other ns', 'hamsync/other/put/+', false, false, true],
  ['state #', 'hamsync/default/state/#', true, true, true],
  ['state key', 'hamsync/default/state/pi-7/cpu/temp', true, true, true],
  ['state +', 'hamsync/default/state/+/cpu', true, true, true],
  ['state other ns', 'hamsync/other/state/#', false, false, true],
  ['own sync/res', 'hamsync/default/sync/res/pi-7', true, false, true],
  ['other sync/res', 'hamsync/default/sync/res/pi-8', false, false, true],
  ['all sync/res', 'hamsync/default/sync/res/+', false, false, true],
  ['sync/req', 'hamsync/default/sync/req/+', false, false, true],
  ['sync/ack', 'hamsync/default/sync/ack/+', false, false, true],
  ['hub announcement', 'hamsync/default/hub', true, false, true],
  ['hub announcement, other ns', 'hamsync/other/hub', false, false, true],
  ['hub announcement, deeper', 'hamsync/default/hub/x', false, false, true],
  ['all presence', 'hamsync/default/presence/+', true, true, true],
  ['one presence', 'hamsync/default/presence/pi-8', true, true, true],
  ['replay #', 'hamsync/default/replay/#', false, true, true],
  ['replay session', 'hamsync/default/replay/s1/#', false, true, true],
  ['ns #', 'hamsync/default/#', false, false, true],
  ['hamsync #', 'hamsync/#', false, false, true],
  ['ns wildcard', 'hamsync/+/state/#', false, false, true],
  ['#', '#', false, false, true],
  ['$SYS', '$SYS/#', false, false, true],
  ['outside hamsync', 'plain/topic', false, false, true],
];

const ROLES: [string, Principal, 2 | 3 | 4][] = [
  ['device', device, 2],
  ['observer', observer, 3],
  ['admin', admin, 4],
];

test('ACL matrix: publish, every role x topic class', () => {
  for (const row of PUBLISH) {
    for (const [name, p, col] of ROLES) {
      const d = canPublish(p, row[1]);
      assert.equal(d.allow, row[col], `${name} publish ${row[0]} (${row[1]}): ${d.allow ? 'allowed' : d.reason}`);
      if (!d.allow) assert.ok(d.reason.length > 0);
    }
  }
});

test('ACL matrix: subscribe, every role x topic class', () => {
  for (const row of SUBSCRIBE) {
    for (const [name, p, col] of ROLES) {
      const d = canSubscribe(p, row[1]);
      assert.equal(d.allow, row[col], `${name} subscribe ${row[0]} (${row[1]}): ${d.allow ? 'allowed' : d.reason}`);
    }
  }
});

// A cluster node's login (broker/cluster/peer-snapshot.ts): a sync v2 follower that writes nothing.
const node: Principal = { role: 'node', id: 'pi-7', ns: new Set(['default']) };
const NODE_PUBLISH = new Set(['own sync/req', 'own sync/ack']);
const NODE_SUBSCRIBE = new Set(['own sync/res', 'hub announcement']);

test('ACL matrix: a node publishes only its own sync/req and sync/ack, subscribes only to the hub and its own sync/res', () => {
  for (const [what, topic] of PUBLISH) {
    const d = canPublish(node, topic);
    assert.equal(d.allow, NODE_PUBLISH.has(what), `node publish ${what} (${topic}): ${d.allow ? 'allowed' : d.reason}`);
  }
  for (const [what, filter] of SUBSCRIBE) {
    const d = canSubscribe(node, filter);
    assert.equal(d.allow, NODE_SUBSCRIBE.has(what), `node subscribe ${what} (${filter}): ${d.allow ? 'allowed' : d.reason}`);
  }
  // Only in its namespaces; a node of every namespace follows any.
  assert.equal(canPublish(node, 'hamsync/other/sync/req/pi-7').allow, false);
  assert.equal(canSubscribe(node, 'hamsync/other/hub').allow, false);
  assert.equal(canPublish({ role: 'node', id: 'pi-7' }, 'hamsync/other/sync/req/pi-7').allow, true);
  assert.equal(canSubscribe({ role: 'node', id: 'pi-7' }, 'hamsync/other/sync/res/pi-7').allow, true);
});

test('ACL: namespaces — a user without an ns list may use any, and `+` in the ns level only then', () => {
  assert.equal(canPublish(anyNsDevice, 'hamsync/elsewhere/put/pi-7').allow, true);
  assert.equal(canSubscribe(anyNsDevice, 'hamsync/+/state/#').allow, true);
  assert.equal(canSubscribe(device, 'hamsync/+/state/#').allow, false);
  assert.equal(canPublish(anyNsDevice, 'hamsync/+/put/pi-7').allow, false);
  const observerAll: Principal = { role: 'observer', id: 'o' };
  assert.equal(canSubscribe(observerAll, 'hamsync/+/replay/#').allow, true);
  assert.equal(canSubscribe(observerAll, 'hamsync/+/put/+').allow, false);
});

test('ACL: malformed filters are refused for non-admins', () => {
  for (const f of ['hamsync/default/state/#/x', 'hamsync/default/state/a#', 'hamsync/default/state/', 'hamsync/default/put/a+', 'hamsync/default/put', 'hamsync/default/state', 'hamsync//state/#', 'hamsync/de+/state/#']) {
    assert.equal(canSubscribe(device, f).allow, false, f);
    assert.equal(canSubscribe(observer, f).allow, false, f);
  }
  // A device id that is a prefix of another's does not open the other's topics.
  assert.equal(canPublish({ role: 'device', id: 'pi', ns: new Set(['default']) }, 'hamsync/default/put/pi-7').allow, false);
});

test('ACL: client ids hamsync-<user>[.<suffix>] are reserved for that user; devices must use theirs', () => {
  const cases: [Principal, string, boolean, boolean?][] = [
    [device, 'hamsync-pi-7', true],
    [device, 'hamsync-pi-7.tool', true],
    [device, 'hamsync-pi-8', false],
    [device, 'hamsync-pi', false],
    [device, 'pi-7', false],
    [device, 'random', false],
    [{ role: 'device', id: 'pi', ns: new Set(['default']) }, 'hamsync-pi-7', false],
    [node, 'hamsync-pi-7.snap-0a1b2c3d', true],
    [node, 'hamsync-pi-8.snap-0a1b2c3d', false],
    [node, 'snapshotter', false],
    [observer, 'dashboard-1', true],
    [observer, 'hamsync-dash', true],
    [observer, 'hamsync-pi-7', false],
    [admin, 'anything', true],
    [admin, 'hamsync-pi-7', false],
    [admin, 'hamsync-root.replay', true],
    [{ role: 'observer', id: 'anonymous' }, 'viewer', true, true],
    [{ role: 'observer', id: 'anonymous' }, 'hamsync-anonymous', false, true],
    [{ role: 'observer', id: 'anonymous' }, 'hamsync-pi-7', false, true],
  ];
  for (const [p, id, want, anon] of cases) assert.equal(canUseClientId(p, id, anon).allow, want, `${p.role} ${p.id} as ${id}`);
});
