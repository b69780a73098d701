/**
 * systemd credentials. A unit with `DynamicUser=yes` runs as a transient user that cannot open
 * root-only secrets (the users file, a signing key, a TLS key). systemd copies each secret named
 * by `LoadCredential=<id>` into a directory only the service can read and exports its path as
 * $CREDENTIALS_DIRECTORY. A path option written `${CREDENTIALS_DIRECTORY}/<id>` (in the config
 * file, an env var or a flag) names that copy; it is the only variable hamsync expands, and only
 * at the start of a path option. See docs/operations.md.
 */
import path from 'node:path';
import { HamsyncError, describe } from '../errors.js';

/** Options that name a file and may name a credential, per command. */
export const CREDENTIAL_PATH_KEYS = {
  daemon: ['signingKey', 'keys', 'users', 'ca', 'cert', 'key'],
  broker: ['users', 'keys', 'tlsCert', 'tlsKey', 'tlsCa', 'clusterPasswordFile'],
} as const;

const REF = /^\$(?:\{CREDENTIALS_DIRECTORY\}|CREDENTIALS_DIRECTORY)\/(.*)$/;
/** What systemd accepts as a credential id, narrowed to safe file name characters. */
const ID = /^[A-Za-z0-9_.@+-]{1,255}$/;

function fail(field: string, value: unknown, why: string): never {
  throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} is ${describe(value)}: ${why}`, { field });
}

/** The credential id a value names, or undefined for a plain path. Checks the form (not the environment). */
export function credentialId(value: string, field: string): string | undefined {
  if (!value.startsWith('$')) return undefined;
  const m = REF.exec(value);
  if (!m) fail(field, value, 'the only variable a path may start with is ${CREDENTIALS_DIRECTORY}/<credential id>');
  const id = m[1] ?? '';
  if (!ID.test(id) || id === '.' || id === '..') fail(field, value, 'a credential id is 1-255 of [A-Za-z0-9_.@+-], with no "/"');
  return id;
}

/** Config check for a path option: a non-empty string, and a well-formed credential reference if it is one. */
export function checkPath(value: unknown, field: string): void {
  if (typeof value !== 'string' || value === '') {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `${field} must be a file path, got ${describe(value)}`, { field });
  }
  credentialId(value, field);
}

/** `${CREDENTIALS_DIRECTORY}/<id>` as a real path; a plain path unchanged. */
export function resolveCredentialPath(value: string, field: string, env: NodeJS.ProcessEnv = process.env): string {
  const id = credentialId(value, field);
  if (id === undefined) return value;
  const dir = env.CREDENTIALS_DIRECTORY;
  if (dir === undefined || dir === '') {
    fail(field, value, '$CREDENTIALS_DIRECTORY is not set; systemd sets it for a unit with LoadCredential= (docs/operations.md); outside systemd give the file\'s path');
  }
  if (!path.isAbsolute(dir)) fail(field, value, `$CREDENTIALS_DIRECTORY must be an absolute path, got ${describe(dir)}`);
  return path.join(dir, id);
}

/** A copy of `options` with each of `keys` that is set resolved by resolveCredentialPath. */
export function resolveCredentialPaths<T extends object>(options: T, keys: readonly string[], env: NodeJS.ProcessEnv = process.env): T {
  const out = { ...options } as Record<string, unknown>;
  for (const key of keys) {
    const v = out[key];
    if (typeof v === 'string') out[key] = resolveCredentialPath(v, key, env);
  }
  return out as T;
}
