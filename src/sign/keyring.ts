/**
 * A keyring: source (device id) -> Ed25519 public key. Built from the users file (`pub` of each
 * user) and/or a keys file for peers that do not hold the users file:
 *
 *   {"version":1,"keys":{"pi-7":"<43 base64url characters>"}}
 *
 * (`hamsync key list --users FILE --json` prints exactly that). KeyObjects are made once per
 * source, at first use, and cached: verifying does no key parsing.
 */
import type { KeyObject } from 'node:crypto';
import { HamsyncError, describe } from '../errors.js';
import { USER_ID, loadUsers, type UsersFile } from '../auth/users.js';
import { publicKeyObject, publicKeyProblem } from './public-key.js';
import { readJsonFile } from '../util/json-file.js';

export interface KeysFile {
  version: 1;
  keys: Record<string, string>;
}

function bad(where: string, message: string): never {
  throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `${where}: ${message}`, { file: where });
}

export class Keyring {
  private readonly pubs = new Map<string, string>();
  private readonly objects = new Map<string, KeyObject>();

  /** `entries`: source id -> base64url public key, each checked (`where` names the origin in errors). */
  constructor(entries: Iterable<readonly [string, string]> = [], where = 'keyring') {
    for (const [id, pub] of entries) this.add(id, pub, where);
  }

  /** The keys of the users that have a `pub` (the file was checked when loaded). */
  static fromUsers(users: UsersFile): Keyring {
    const ring = new Keyring();
    for (const [id, rec] of Object.entries(users.users)) if (rec.pub !== undefined) ring.add(id, rec.pub, 'users file');
    return ring;
  }

  /** One keyring of several (users file, keys file); a source named twice must have the same key. */
  static merge(...rings: Keyring[]): Keyring {
    const ring = new Keyring();
    for (const r of rings) for (const [id, pub] of r.pubs) ring.add(id, pub, 'merged keyrings');
    return ring;
  }

  private add(id: string, pub: string, where: string): void {
    if (typeof id !== 'string' || !USER_ID.test(id)) bad(where, `source id ${describe(id)} is not 1-64 characters of [A-Za-z0-9_-]`);
    const problem = publicKeyProblem(pub);
    if (problem !== undefined) bad(where, `key of ${id} ${problem}`);
    const known = this.pubs.get(id);
    if (known !== undefined && known !== pub) bad(where, `two different public keys for ${id}`);
    this.pubs.set(id, pub);
  }

  get size(): number {
    return this.pubs.size;
  }

  has(src: string): boolean {
    return this.pubs.has(src);
  }

  /** The base64url public key of `src`, if known. */
  pub(src: string): string | undefined {
    return this.pubs.get(src);
  }

  /** The (cached) KeyObject of `src`, if known. */
  keyObject(src: string): KeyObject | undefined {
    let key = this.objects.get(src);
    if (key !== undefined) return key;
    const pub = this.pubs.get(src);
    if (pub === undefined) return undefined;
    key = publicKeyObject(pub, `public key of ${src}`);
    this.objects.set(src, key);
    return key;
  }

  /** As a keys file, sources sorted. */
  toJSON(): KeysFile {
    const keys: Record<string, string> = {};
    for (const id of [...this.pubs.keys()].sort()) keys[id] = this.pubs.get(id) as string;
    return { version: 1, keys };
  }
}

/** Checks the parsed content of a keys file; `file` names it in errors. */
export function parseKeysFile(data: unknown, file = 'keys file'): Keyring {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) bad(file, 'must be a JSON object {"version":1,"keys":{...}}');
  const o = data as Record<string, unknown>;
  if (o.version !== 1) bad(file, `version must be 1, got ${describe(o.version)}`);
  const keys = o.keys;
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys)) bad(file, `"keys" must be an object of source id -> public key, got ${describe(keys)}`);
  const entries = Object.entries(keys as Record<string, unknown>).map(([id, pub]): [string, string] => {
    const problem = publicKeyProblem(pub);
    if (problem !== undefined) bad(file, `key of ${id} ${problem}`);
    return [id, pub as string];
  });
  return new Keyring(entries, file);
}

/** Reads and checks a keys file. */
export function loadKeysFile(file: string): Keyring {
  return parseKeysFile(readJsonFile(file, 'keys file', (reason) => bad(file, reason)), file);
}

export interface KeyringSources {
  /** A users file: the `pub` of its users. Default: none. */
  users?: string;
  /** A keys file ({"version":1,"keys":{...}}). Default: none. */
  keys?: string;
}

/** The keyring of a users file and/or a keys file (both: merged; a source in both must have the same key). */
export function loadKeyring(sources: KeyringSources): Keyring {
  const rings: Keyring[] = [];
  if (sources.users !== undefined) rings.push(Keyring.fromUsers(loadUsers(sources.users)));
  if (sources.keys !== undefined) rings.push(loadKeysFile(sources.keys));
  return rings.length === 1 ? (rings[0] as Keyring) : Keyring.merge(...rings);
}
