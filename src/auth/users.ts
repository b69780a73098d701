/**
 * The broker's users file: who may log in, with which role, in which namespaces. Passwords are
 * never stored: only a salted scrypt hash (N=16384, r=8, p=1, 16-byte random salt, 32-byte key,
 * both base64), compared in constant time.
 *
 *   {"version":1,"users":{"pi-7":{"role":"device","salt":"…","hash":"…","ns":["default"]}}}
 *
 * `ns` is optional: absent means every namespace. `pub` is optional: the user's Ed25519 public
 * key (43 base64url characters, src/sign/public-key.ts); updates from a source with a key must
 * carry a valid signature.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { HamsyncError, describe } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readJsonFile } from '../util/json-file.js';
import { publicKeyProblem } from '../sign/public-key.js';

export const ROLES = ['device', 'observer', 'admin', 'node'] as const;
export type Role = (typeof ROLES)[number];

export interface UserRecord {
  role: Role;
  salt: string;
  hash: string;
  /** Namespaces the user may use; absent: all. */
  ns?: string[];
  /** Ed25519 public key, 43 base64url characters; absent: the user's updates need no signature. */
  pub?: string;
}

export interface UsersFile {
  version: 1;
  users: Record<string, UserRecord>;
}

export const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;
const NS = /^[A-Za-z0-9_-]{1,64}$/;
const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
/** Passwords longer than this are refused (scrypt cost is fine, but there is no reason for more). */
export const MAX_PASSWORD_LENGTH = 1024;

function bad(file: string, message: string): never {
  throw new HamsyncError('HAMSYNC_ERR_USERS', `${file}: ${message}`, { file });
}

export function isRole(v: unknown): v is Role {
  return typeof v === 'string' && (ROLES as readonly string[]).includes(v);
}

export function assertUserId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || !USER_ID.test(id)) {
    throw new HamsyncError('HAMSYNC_ERR_USERS', `a user id must be 1-64 characters of [A-Za-z0-9_-], got ${describe(id)}`, { field: 'id' });
  }
}

/** Checks the parsed content of a users file; `file` names it in error messages. */
export function parseUsers(data: unknown, file = 'users file'): UsersFile {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) bad(file, 'must be a JSON object {"version":1,"users":{...}}');
  const o = data as Record<string, unknown>;
  if (o.version !== 1) bad(file, `version must be 1, got ${describe(o.version)}`);
  const users = o.users;
  if (typeof users !== 'object' || users === null || Array.isArray(users)) bad(file, '"users" must be an object of user id -> record');
  const out: Record<string, UserRecord> = {};
  for (const [id, rec] of Object.entries(users as Record<string, unknown>)) {
    if (!USER_ID.test(id)) bad(file, `user id ${describe(id)} is not 1-64 characters of [A-Za-z0-9_-]`);
    if (typeof rec !== 'object' || rec === null || Array.isArray(rec)) bad(file, `user ${id}: must be an object`);
    const r = rec as Record<string, unknown>;
    if (!isRole(r.role)) bad(file, `user ${id}: role must be one of ${ROLES.join(', ')}, got ${describe(r.role)}`);
    for (const f of ['salt', 'hash'] as const) {
      if (typeof r[f] !== 'string' || Buffer.from(r[f] as string, 'base64').length < 16) bad(file, `user ${id}: ${f} must be base64 of at least 16 bytes`);
    }
    const user: UserRecord = { role: r.role, salt: r.salt as string, hash: r.hash as string };
    if (r.ns !== undefined) {
      if (!Array.isArray(r.ns) || r.ns.length === 0 || !r.ns.every((n) => typeof n === 'string' && NS.test(n))) {
        bad(file, `user ${id}: ns must be a non-empty list of namespaces (1-64 characters of [A-Za-z0-9_-])`);
      }
      user.ns = [...(r.ns as string[])];
    }
    if (r.pub !== undefined) {
      const problem = publicKeyProblem(r.pub);
      if (problem !== undefined) bad(file, `user ${id}: pub ${problem}`);
      user.pub = r.pub as string;
    }
    out[id] = user;
  }
  return { version: 1, users: out };
}

/** Reads and checks a users file. `missingOk`: a missing file is an empty one (for `user add`). */
export function loadUsers(file: string, missingOk = false): UsersFile {
  const data = readJsonFile(file, 'users file', (reason) => bad(file, reason), missingOk);
  return data === undefined ? { version: 1, users: {} } : parseUsers(data, file);
}

/** Writes the users file atomically (temp file in the same directory, mode 0600, fsync, rename). */
export function saveUsers(file: string, users: UsersFile): void {
  try {
    writeFileAtomic(file, `${JSON.stringify(users, null, 2)}\n`, { mode: 0o600 });
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_FILE', `cannot write users file ${file}: ${(err as Error).message}`, { file });
  }
}

function derive(password: string, salt: Buffer, keyLength = KEY_LENGTH): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, keyLength, SCRYPT, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export function assertPassword(password: unknown): asserts password is string {
  if (typeof password !== 'string' || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
    throw new HamsyncError('HAMSYNC_ERR_USERS', `a password must be 1 to ${MAX_PASSWORD_LENGTH} characters`, { field: 'password' });
  }
}

/** A new salt and the scrypt hash of the password with it, both base64. */
export async function hashPassword(password: string): Promise<{ salt: string; hash: string }> {
  assertPassword(password);
  const salt = randomBytes(SALT_LENGTH);
  const key = await derive(password, salt);
  return { salt: salt.toString('base64'), hash: key.toString('base64') };
}

// Compared against when the user does not exist, so an unknown user costs the same time as a wrong password.
const DUMMY = { salt: randomBytes(SALT_LENGTH).toString('base64'), hash: randomBytes(KEY_LENGTH).toString('base64') };

/** Whether `password` matches the record (constant-time comparison); undefined record: always false, same cost. */
export async function verifyPassword(record: Pick<UserRecord, 'salt' | 'hash'> | undefined, password: string | Buffer | undefined): Promise<boolean> {
  const text = password === undefined ? '' : typeof password === 'string' ? password : password.toString('utf8');
  const rec = record ?? DUMMY;
  const expected = Buffer.from(rec.hash, 'base64');
  // The key length follows the stored hash (32 or 64 bytes), clamped so a bad file cannot make us derive megabytes.
  const keyLength = Math.min(Math.max(expected.length, 16), 64);
  const key = await derive(text.slice(0, MAX_PASSWORD_LENGTH + 1), Buffer.from(rec.salt, 'base64'), keyLength);
  const same = key.length === expected.length && timingSafeEqual(key, expected);
  return record !== undefined && text.length > 0 && text.length <= MAX_PASSWORD_LENGTH && same;
}
