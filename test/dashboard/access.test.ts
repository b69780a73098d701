/**
 * The admin API and dashboard beyond loopback: refused at start without TLS or without an admin
 * user; when bound to a non-loopback address (0.0.0.0 here, reached only on 127.0.0.1) every
 * request needs HTTPS and the HTTP Basic login of an `admin` user, and the JSON rule on actions stays.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { checkServerIdentity } from 'node:tls';
import { test } from 'node:test';
import { startBroker } from '../../broker/server.js';
import { hashPassword } from '../../src/auth/users.js';
import { tempDir } from '../helpers/tmp.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { raw } from './http-client.js';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function https(port: number, ca: Buffer, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // The certificate is checked for 127.0.0.1, whatever Host header a case sends.
    const req = request({ host: '127.0.0.1', port, method, path, ca, headers, checkServerIdentity: (_name, peer) => checkServerIdentity('127.0.0.1', peer) }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer in 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

const basic = (user: string, password: string): Record<string, string> => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });

test('beyond loopback the admin API needs TLS and an admin user; then every request logs in', { skip: skipUnlessTools('openssl'), timeout: 60_000 }, async (t) => {
  const dir = tempDir(t);
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-days', '2'], { stdio: 'ignore' });
  const usersFile = join(dir, 'users.json');
  const deviceOnly = join(dir, 'devices.json');
  const boss = await hashPassword('s3cret-boss');
  const pi = await hashPassword('pi-password');
  writeFileSync(usersFile, JSON.stringify({ version: 1, users: { boss: { role: 'admin', ...boss }, 'pi-7': { role: 'device', ...pi } } }));
  writeFileSync(deviceOnly, JSON.stringify({ version: 1, users: { 'pi-7': { role: 'device', ...pi } } }));
  const base = { port: 0, host: '127.0.0.1', http: { host: '0.0.0.0', port: 0 } };

  // Refused at start, naming what is missing; nothing is left open (the same data dir is reused).
  const refusals: [Parameters<typeof startBroker>[0], RegExp][] = [
    [{ ...base, dataDir: join(dir, 'hub') }, /HAMSYNC_ERR_CONFIG: the admin API on "0\.0\.0\.0" \(not a loopback address\) needs TLS/],
    [{ ...base, dataDir: join(dir, 'hub'), tls: { cert, key } }, /needs a login: give --users with an admin user/],
    [{ ...base, dataDir: join(dir, 'hub'), tls: { cert, key }, auth: { usersFile: deviceOnly } }, /the users file has no admin user/],
  ];
  for (const [options, why] of refusals) await assert.rejects(startBroker(options), why);

  const broker = await startBroker({ ...base, dataDir: join(dir, 'hub'), tls: { cert, key }, auth: { usersFile } });
  t.after(() => broker.close());
  const port = broker.httpPort as number;
  const ca = readFileSync(cert);

  // No login, a wrong password, an unknown user, a device's own login: 401 with a Basic challenge.
  for (const headers of [{}, basic('boss', 'wrong'), basic('nobody', 's3cret-boss'), basic('pi-7', 'pi-password'), { authorization: 'Bearer x' }]) {
    const a = await https(port, ca, 'GET', '/', headers);
    assert.equal(a.status, 401, JSON.stringify(headers));
    assert.match(String(a.headers['www-authenticate']), /^Basic realm="hamsync admin"/);
    assert.match(a.body, /HAMSYNC_ERR_AUTH/);
    assert.doesNotMatch(a.body, /<html|drift dashboard/);
  }
  const notAdmin = await https(port, ca, 'GET', '/v1/status', basic('pi-7', 'pi-password'));
  assert.match(notAdmin.body, /is not an admin/);

  // The admin: the page, the API and the stream's refusal rules, whatever name the browser used for the hub.
  const admin = basic('boss', 's3cret-boss');
  const page = await https(port, ca, 'GET', '/', { ...admin, host: 'hub.example:7900' });
  assert.equal(page.status, 200);
  assert.match(page.body, /drift dashboard/);
  const status = await https(port, ca, 'GET', '/v1/status', admin);
  assert.equal((JSON.parse(status.body) as { role: string }).role, 'broker');
  const fleet = await https(port, ca, 'GET', '/v1/fleet', admin);
  assert.equal(fleet.status, 200);
  // A logged-in browser still cannot be made to act cross-site: an action must be JSON.
  const form = await https(port, ca, 'POST', '/v1/quarantine/release', { ...admin, 'content-type': 'text/plain' }, '{"all":true}');
  assert.equal(form.status, 415);
  const json = await https(port, ca, 'POST', '/v1/quarantine/release', { ...admin, 'content-type': 'application/json' }, '{"all":true}');
  assert.equal(json.status, 200, json.body);

  // No plain HTTP on that port.
  await assert.rejects(raw(port, 'GET', '/'));
});
