import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startBroker, type RunningBroker } from '../../broker/server.js';
import { hashPassword, saveUsers } from '../../src/auth/users.js';
import { Daemon } from '../../src/daemon/daemon.js';
import { tempDir } from '../helpers/tmp.js';
import { skipUnlessTools } from '../helpers/tools.js';
import { sleep, until } from '../helpers/wait.js';

/** Throwaway PKI: a CA, a server cert for 127.0.0.1/localhost, client certs by CN, another CA, an expired cert. */
function pki(dir: string): (name: string) => string {
  const f = (name: string): string => join(dir, name);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { stdio: 'ignore' });
  const ca = (name: string): void => ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`), '-subj', `/CN=${name}`, '-days', '2');
  const leaf = (name: string, cn: string, signer: string, days: string, ext?: string): void => {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`), '-subj', `/CN=${cn}`);
    const extArgs: string[] = [];
    if (ext) {
      writeFileSync(f(`${name}.ext`), ext);
      extArgs.push('-extfile', f(`${name}.ext`));
    }
    ssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f(`${signer}.pem`), '-CAkey', f(`${signer}.key`), '-CAcreateserial', '-out', f(`${name}.pem`), '-days', days, ...extArgs);
  };
  ca('ca');
  ca('other-ca');
  leaf('expired', 'pi-7', 'ca', '0');
  leaf('server', 'localhost', 'ca', '2', 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  leaf('pi-7', 'pi-7', 'ca', '2');
  leaf('stranger', 'pi-7', 'other-ca', '2');
  return f;
}

/** Tries to connect: 'connected', or why not (an error, a closed link, or a time-out: bounded). */
function refused(url: string, opts: mqtt.IClientOptions): Promise<string> {
  return new Promise((resolve) => {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
    const done = (why: string): void => {
      clearTimeout(timer);
      c.end(true);
      resolve(why);
    };
    const timer = setTimeout(() => done('timed out'), 6000);
    c.once('connect', () => done('connected'));
    c.once('error', (err) => done(err.message));
    c.once('close', () => done('closed by the broker'));
  });
}

test('TLS and mutual TLS: the CN is the device id; wrong CA, missing or expired client certificates are refused', { skip: skipUnlessTools('openssl') }, async (t) => {
  const dir = tempDir(t);
  const f = pki(dir);
  const usersFile = join(dir, 'users.json');
  saveUsers(usersFile, { version: 1, users: { 'pi-7': { role: 'device', ...(await hashPassword('pi-7-password')) } } });
  const brokers: RunningBroker[] = [];
  const daemons: Daemon[] = [];
  t.after(async () => {
    for (const d of daemons) await d.stop();
    for (const b of brokers) await b.close();
  });

  // Server TLS only: a daemon verifies the broker with --ca; a client trusting another CA cannot connect.
  const plain = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub1'), tls: { cert: f('server.pem'), key: f('server.key') } });
  brokers.push(plain);
  const tlsUrl = `mqtts://localhost:${plain.port}`;
  const d1 = await Daemon.start({ id: 'tls-1', broker: tlsUrl, ca: f('ca.pem'), dataDir: join(dir, 'd1'), http: '127.0.0.1:0' });
  daemons.push(d1);
  await d1.put([{ key: 'tls/one', value: 1 }]);
  await until(() => plain.replica.get('tls/one')?.value === 1, { what: 'put over TLS at the hub' });
  assert.match(await refused(tlsUrl, { ca: readFileSync(f('other-ca.pem')), clientId: 'x1' }), /self.signed|unable to verify|certificate|closed by the broker/i);

  // Mutual TLS with a users file: the certificate logs pi-7 in without a password.
  const mutual = await startBroker({ port: 0, host: '127.0.0.1', dataDir: join(dir, 'hub2'), tls: { cert: f('server.pem'), key: f('server.key'), ca: f('ca.pem') }, auth: { usersFile } });
  brokers.push(mutual);
  const mUrl = `mqtts://localhost:${mutual.port}`;
  const ca = readFileSync(f('ca.pem'));
  const good = { ca, cert: readFileSync(f('pi-7.pem')), key: readFileSync(f('pi-7.key')), clientId: 'hamsync-pi-7.probe' };
  assert.equal(await refused(mUrl, good), 'connected');
  // No client certificate where one is required.
  assert.match(await refused(mUrl, { ca, clientId: 'hamsync-pi-7.nocert', username: 'pi-7', password: 'pi-7-password' }), /certificate|closed by the broker|alert/i);
  // A certificate from another CA, with the right CN.
  assert.match(await refused(mUrl, { ca, cert: readFileSync(f('stranger.pem')), key: readFileSync(f('stranger.key')), clientId: 'hamsync-pi-7.s' }), /certificate|closed by the broker|alert/i);
  // An expired certificate.
  const expired = new X509Certificate(readFileSync(f('expired.pem')));
  while (Date.parse(expired.validTo) >= Date.now()) await sleep(200);
  // (With TLS 1.3 the client may see the broker's refusal only as a closed connection.)
  assert.match(await refused(mUrl, { ca, cert: readFileSync(f('expired.pem')), key: readFileSync(f('expired.key')), clientId: 'hamsync-pi-7.e' }), /expired|certificate|closed by the broker/i);
  // A certificate for pi-7 used to log in as someone else.
  assert.match(await refused(mUrl, { ...good, clientId: 'hamsync-intruder', username: 'intruder', password: 'x' }), /Not authorized|Bad username/i);
  const counters = mutual.hub.counters.snapshot();
  assert.equal(counters['auth.failed.certificate-mismatch'], 1);

  // A daemon with --cert/--key syncs through the mutual-TLS broker as pi-7.
  const d2 = await Daemon.start({ id: 'pi-7', broker: mUrl, ca: f('ca.pem'), cert: f('pi-7.pem'), key: f('pi-7.key'), dataDir: join(dir, 'd2'), http: '127.0.0.1:0' });
  daemons.push(d2);
  await d2.put([{ key: 'pi-7/cpu/temp', value: 48.5 }]);
  await until(() => mutual.replica.get('pi-7/cpu/temp')?.value === 48.5, { what: 'put over mutual TLS at the hub' });
  assert.equal(mutual.hub.counters.snapshot()['acl.denied.publish'], undefined);
});
