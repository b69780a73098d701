/**
 * Authentication and topic ACLs for the broker, installed on Aedes when a users file is given.
 *
 * - CONNECT: MQTT username = user id, password checked against the users file (scrypt, constant
 *   time). Refused logins get CONNACK 4 (bad user name or password), 5 (not authorized: no
 *   credentials without --allow-anonymous, or a will topic the user may not publish on), 2
 *   (a client id reserved for another user) or 3 (too many logins waiting for a password check).
 *   Password checks are bounded and an unknown user derives nothing (broker/login-gate.ts). Aedes takes over a session with the same client id
 *   only after authentication succeeded, so a failed login never disconnects the real client.
 * - PUBLISH: refused publishes disconnect the client (MQTT 3.1.1 norm; a device's own outbox
 *   keeps the message, so nothing is silently lost).
 * - SUBSCRIBE: a refused filter is granted QoS 128 (failure); the other filters of the same
 *   SUBSCRIBE are unaffected.
 *
 * Every refusal is logged (warn, with code HAMSYNC_ERR_AUTH or HAMSYNC_ERR_ACL; every field cut to
 * a bound, and at most one line a second per client and kind, or per reason for logins, the next
 * line saying how many were held back) and counted in the hub's counters: auth.failed (+ auth.failed.<why>), acl.denied.publish, acl.denied.subscribe,
 * acl.denied.will; successful logins count auth.ok.
 */
import fs from 'node:fs';
import { taggedPeer } from './tls.js';
import type { Aedes, AuthenticateError, Client, ConnectPacket, PublishPacket, Subscription } from 'aedes';
import { loadUsers, type UsersFile } from '../src/auth/users.js';
import type { Context } from '../src/context.js';
import { isHamsyncError } from '../src/errors.js';
import { LogThrottle, suppressedField } from '../src/log-throttle.js';
import { canPublish, canSubscribe, canUseClientId, type Principal } from './acl.js';
import { clip } from './log-fields.js';
import { LoginGate, type LoginGateOptions } from './login-gate.js';

export interface AuthOptions {
  /** Path of the users file (JSON, see src/auth/users.ts). It is re-read when it changes. */
  usersFile: string;
  /** Let clients without a username in, as read-only observers. Default false. */
  allowAnonymous?: boolean;
  /** Bounds on password checks (broker/login-gate.ts). */
  logins?: LoginGateOptions;
}

/** CONNACK return codes (MQTT 3.1.1). */
const IDENTIFIER_REJECTED = 2;
const SERVER_UNAVAILABLE = 3;
const BAD_CREDENTIALS = 4;
const NOT_AUTHORIZED = 5;

function authError(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

export class Guard {
  private users: UsersFile;
  private stamp: string;
  private readonly principals = new WeakMap<Client, Principal>();
  private readonly wills = new WeakMap<Client, string>();

  private readonly gate: LoginGate;
  /** Refusal log lines: one per second per (kind, client id) or (login, reason); counters count every refusal. */
  private readonly logThrottle = new LogThrottle();
  /** Called with the new users after every successful reload (the hub rebuilds its keyring from their `pub`). */
  private readonly reloadListeners: ((users: UsersFile) => void)[] = [];

  constructor(
    private readonly ctx: Context,
    private readonly options: AuthOptions,
  ) {
    this.users = loadUsers(options.usersFile);
    this.stamp = this.statStamp();
    this.gate = new LoginGate(options.logins, () => this.ctx.counters.inc('auth.derivations'));
  }

  get userCount(): number {
    return Object.keys(this.users.users).length;
  }

  /** The users as last loaded. */
  get currentUsers(): UsersFile {
    return this.users;
  }

  /** Runs `fn` with the new users whenever the file was reloaded successfully. */
  onReload(fn: (users: UsersFile) => void): void {
    this.reloadListeners.push(fn);
  }

  /**
   * Installs the login hooks (preConnect, authenticate). The publish and subscribe decisions are
   * `mayPublish` and `maySubscribe`, which broker/authorize.ts runs before the hub's.
   */
  attach(aedes: Aedes): void {
    aedes.preConnect = (client, packet, cb) => this.preConnect(client, packet, cb);
    aedes.authenticate = (client, username, password, done) => {
      this.authenticate(client, username, password).then(
        () => done(null, true),
        (err: AuthenticateError) => done(err, false),
      );
    };
  }

  /** The ACL on a publish: undefined if allowed, else the error that refuses it (counted and logged). The broker's own publishes (no client) pass. */
  mayPublish(client: Client | null, packet: PublishPacket): Error | undefined {
    if (!client) return undefined;
    const p = this.principals.get(client);
    const d = p ? canPublish(p, packet.topic) : ({ allow: false, reason: 'not authenticated' } as const);
    if (d.allow) return undefined;
    this.ctx.counters.inc('acl.denied.publish');
    this.warn(`publish\u0000${client.id}`, 'publish refused; disconnecting the client', { code: 'HAMSYNC_ERR_ACL', client: clip(client.id), user: p?.id, role: p?.role, topic: clip(packet.topic), reason: d.reason });
    return new Error(`HAMSYNC_ERR_ACL: ${d.reason}`);
  }

  /** The ACL on a subscription: true if allowed; a refusal is counted and logged. */
  maySubscribe(client: Client, sub: Subscription): boolean {
    const p = this.principals.get(client);
    const d = p ? canSubscribe(p, sub.topic) : ({ allow: false, reason: 'not authenticated' } as const);
    if (d.allow) return true;
    this.ctx.counters.inc('acl.denied.subscribe');
    this.warn(`subscribe\u0000${client.id}`, 'subscribe refused', { code: 'HAMSYNC_ERR_ACL', client: clip(client.id), user: p?.id, role: p?.role, filter: clip(sub.topic), reason: d.reason });
    return false;
  }

  private preConnect(client: Client, packet: ConnectPacket, cb: (err: Error | null, ok: boolean) => void): void {
    // authenticate() does not see the CONNECT packet; remember its will topic for it.
    if (packet.will) this.wills.set(client, packet.will.topic);
    cb(null, true);
  }

  private async authenticate(client: Client, username: string | undefined, password: Buffer | undefined): Promise<void> {
    const refuse = (why: string, returnCode: number, detail: Record<string, unknown> = {}): never => {
      this.ctx.counters.inc('auth.failed');
      this.ctx.counters.inc(`auth.failed.${why}`);
      this.warn(`login\u0000${why}`, 'login refused', { code: 'HAMSYNC_ERR_AUTH', why, client: clip(client.id), user: clip(username, 64), ...detail });
      throw authError(returnCode, `HAMSYNC_ERR_AUTH: ${why}`);
    };
    this.reloadIfChanged();
    let principal: Principal;
    // Mutual TLS: a verified client certificate's CN is the user id (the certificate stands for the password).
    const cn = taggedPeer(client.conn);
    if (cn !== undefined && username !== undefined && username !== '' && username !== cn) refuse('certificate-mismatch', NOT_AUTHORIZED, { cn: clip(cn, 64) });
    const user = cn ?? username;
    const anonymous = user === undefined || user === '';
    if (anonymous) {
      if (!this.options.allowAnonymous) refuse('no-credentials', NOT_AUTHORIZED);
      principal = { role: 'observer', id: 'anonymous' };
    } else {
      const record = Object.hasOwn(this.users.users, user) ? this.users.users[user] : undefined;
      if (cn !== undefined && password === undefined) {
        if (!record) refuse('unknown-user', BAD_CREDENTIALS);
      } else {
        // In turn and bounded; an unknown user takes as long as a wrong password without deriving (login-gate.ts).
        const verdict = await this.gate.check(record, password, () => !client.closed);
        if (verdict === 'busy') refuse('busy', SERVER_UNAVAILABLE);
        if (verdict === 'gone') refuse('gone', BAD_CREDENTIALS);
        if (!record) refuse('unknown-user', BAD_CREDENTIALS);
        if (verdict !== 'ok') refuse('bad-password', BAD_CREDENTIALS);
      }
      principal = { role: record!.role, id: user, ...(record!.ns ? { ns: new Set(record!.ns) } : {}) };
    }
    const id = canUseClientId(principal, client.id, anonymous);
    if (!id.allow) refuse('client-id', IDENTIFIER_REJECTED, { reason: id.reason });
    const will = this.wills.get(client);
    if (will !== undefined) {
      const d = canPublish(principal, will);
      if (!d.allow) {
        this.ctx.counters.inc('acl.denied.will');
        refuse('will-topic', NOT_AUTHORIZED, { will: clip(will), reason: d.reason });
      }
    }
    this.principals.set(client, principal);
    this.ctx.counters.inc('auth.ok');
    this.ctx.log.debug('login', { client: clip(client.id), user: principal.id, role: principal.role });
  }

  /** A refusal's log line, thinned per `key` (its fields are already bounded). */
  private warn(key: string, msg: string, fields: Record<string, unknown>): void {
    const line = this.logThrottle.take(key);
    if (line) this.ctx.log.warn(msg, { ...fields, ...suppressedField(line) });
  }

  private statStamp(): string {
    try {
      const st = fs.statSync(this.options.usersFile);
      return `${st.mtimeMs}:${st.size}:${st.ino}`;
    } catch {
      return 'missing';
    }
  }

  /** Picks up `hamsync user add/remove` without a restart (at the next CONNECT, or admin API login); a broken file keeps the old users. */
  reloadIfChanged(): void {
    const stamp = this.statStamp();
    if (stamp === this.stamp) return;
    this.stamp = stamp;
    try {
      this.users = loadUsers(this.options.usersFile);
      this.ctx.log.info('users file reloaded', { file: this.options.usersFile, users: this.userCount });
    } catch (err) {
      if (!isHamsyncError(err)) throw err;
      this.ctx.log.error('users file not reloaded; keeping the previous users', { code: err.code, err: err.message });
      return;
    }
    for (const fn of this.reloadListeners) fn(this.users);
  }
}
