import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TlsOptions as NodeTlsOptions } from 'node:tls';
import { isLoopback, type Remote } from '../../src/admin/http-kit.js';
import { verifyPassword, type UsersFile } from '../../src/auth/users.js';
import { HamsyncError, describe } from '../../src/errors.js';
import { tlsServerOptions, type TlsOptions } from '../tls.js';

/** A successful login is remembered this long (ms), so the page's requests do not each derive scrypt. */
export const LOGIN_CACHE_MS = 5 * 60_000;
/** Logins remembered at most; the oldest goes first. */
export const LOGIN_CACHE_MAX = 64;
/** Password checks running at once at most; one more is refused (a flood of guesses cannot take the CPU). */
export const LOGIN_CHECKS_MAX = 4;

/**
 * How the broker's admin API is reached. On a loopback address: as before, no login (undefined).
 * Elsewhere only over TLS (the broker's certificate and key) and with the login of an `admin` user
 * of the users file (HTTP Basic), so both are required; HAMSYNC_ERR_CONFIG names what is missing.
 */
export function adminAccess(http: { host: string }, tls: TlsOptions | undefined, users: (() => UsersFile) | undefined): Remote | undefined {
  if (isLoopback(http.host)) return undefined;
  const where = `the admin API on ${describe(http.host)} (not a loopback address)`;
  if (tls === undefined) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${where} needs TLS: give --tls-cert and --tls-key`, { field: 'http' });
  if (users === undefined) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${where} needs a login: give --users with an admin user (hamsync user add NAME --role admin)`, { field: 'http' });
  const login = new AdminLogin(users);
  if (login.adminCount() === 0) throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${where} needs a login, and the users file has no admin user (hamsync user add NAME --role admin)`, { field: 'http' });
  const { cert, key, minVersion } = tlsServerOptions(tls) as NodeTlsOptions;
  return { tls: { cert, key, minVersion }, authorize: (req) => login.check(req) };
}

/** HTTP Basic logins of the users file's `admin` users. */
export class AdminLogin {
  private readonly remembered = new Map<string, number>();
  private checking = 0;

  /** `users`: the users file as it is now (the broker's Guard, which re-reads it when it changed). */
  constructor(private readonly users: () => UsersFile) {}

  adminCount(): number {
    return Object.values(this.users().users).filter((u) => u.role === 'admin').length;
  }

  /** Resolves when the request carries the password of an admin user; else HAMSYNC_ERR_AUTH (HTTP 401). */
  async check(req: IncomingMessage): Promise<void> {
    const header = req.headers.authorization ?? '';
    const m = /^Basic ([A-Za-z0-9+/=]{1,4096})$/.exec(header);
    if (!m) throw new HamsyncError('HAMSYNC_ERR_AUTH', 'log in as an admin user of the users file (HTTP Basic)', { field: 'authorization' });
    const text = Buffer.from(m[1] as string, 'base64').toString('utf8');
    const colon = text.indexOf(':');
    const user = colon < 0 ? text : text.slice(0, colon);
    const password = colon < 0 ? '' : text.slice(colon + 1);
    const users = this.users().users;
    const record = Object.hasOwn(users, user) ? users[user] : undefined;
    // Remembered by a digest of the credentials and the stored hash: a changed password forgets it.
    const token = createHash('sha256').update(header).update('\u0000').update(record?.hash ?? '').digest('hex');
    const until = this.remembered.get(token);
    if (until !== undefined && until > Date.now() && record?.role === 'admin') return;
    this.remembered.delete(token);
    if (this.checking >= LOGIN_CHECKS_MAX) throw new HamsyncError('HAMSYNC_ERR_AUTH', 'too many logins are being checked at once; retry', { field: 'authorization' });
    this.checking++;
    let ok: boolean;
    try {
      ok = await verifyPassword(record, password);
    } finally {
      this.checking--;
    }
    if (!ok) throw new HamsyncError('HAMSYNC_ERR_AUTH', `wrong user or password for ${describe(user)}`, { field: 'authorization' });
    if (record?.role !== 'admin') throw new HamsyncError('HAMSYNC_ERR_AUTH', `user ${describe(user)} is not an admin (role ${record?.role ?? 'none'})`, { field: 'authorization' });
    if (this.remembered.size >= LOGIN_CACHE_MAX) this.remembered.delete(this.remembered.keys().next().value as string);
    this.remembered.set(token, Date.now() + LOGIN_CACHE_MS);
  }
}
