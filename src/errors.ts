/**
 * Every error hamsync raises on purpose carries a stable code from this table.
 * Codes are part of the public contract: scripts and logs match on them.
 */
export const ERROR_CODES = {
  HAMSYNC_ERR_STATE: 'A state is not a finite number (NaN, Infinity, or not a number at all), or an update state is not greater than 0.',
  HAMSYNC_ERR_VALUE: 'A value is not plain JSON (undefined, a function, a symbol, a bigint, NaN or Infinity inside, a cycle, or a non-plain object).',
  HAMSYNC_ERR_VALUE_TOO_LARGE: 'A value\'s canonical JSON text is longer than the configured limit.',
  HAMSYNC_ERR_KEY: 'A key is not a valid "/"-separated key (empty, "." or ".." segment, wildcard, control character, too long or too deep).',
  HAMSYNC_ERR_SOURCE: 'A source (device id) is not 1 to 64 characters of [A-Za-z0-9_-].',
  HAMSYNC_ERR_UPDATE: 'An update is not an object of the expected shape.',
  HAMSYNC_ERR_BATCH: 'A batch is not an array of updates, or is larger than the configured limit.',
  HAMSYNC_ERR_PAYLOAD: 'An MQTT payload on a hamsync topic is not valid JSON of the documented shape.',
  HAMSYNC_ERR_TOO_LARGE: 'An MQTT payload or HTTP body is larger than the configured limit (checked before parsing).',
  HAMSYNC_ERR_TOPIC: 'A topic does not belong to the protocol, or names a device the payload does not come from.',
  HAMSYNC_ERR_LISTEN: 'A server could not listen on its address (port in use, permission, bad host).',
  HAMSYNC_ERR_NETWORK: 'A daemon or broker could not be reached.',
  HAMSYNC_ERR_CONFIG: 'An option has a wrong type or is out of range; the message names the field and the value it got.',
  HAMSYNC_ERR_STORE: 'The data directory cannot be opened or used (permissions, not a directory, corrupt file, incompatible format).',
  HAMSYNC_ERR_OUTBOX_FULL: 'A local put was refused because the outbox already holds the configured maximum of updates not yet acknowledged by the broker; nothing of it was stored.',
  HAMSYNC_ERR_RATE: 'A put message was refused at the broker because its device is over the put rate limit (updates per second with a burst); nothing of it was stored. Also the answer to a sync request over the per-device sync request rate (protocol v2).',
  HAMSYNC_ERR_PROTOCOL: 'A sync message speaks a protocol version this side does not serve: a v1 catch-up request at a v2 hub (upgrade the daemon), or a sync page that does not follow the request it answers.',
  HAMSYNC_ERR_DEFERRED_FULL: 'A batch or message was refused whole because it would take one source over its deferred-queue cap (deferredMaxPerSource updates or deferredMaxBytesPerSource bytes of key and value text); nothing of it was stored. The queue drains as the clock reaches the waiting states.',
  HAMSYNC_ERR_QUARANTINE_FULL: 'A batch or message was refused whole because it would take one source over its quarantine cap (quarantineMaxPerSource updates stamped further ahead than maxFutureMs); nothing of it was stored. An operator releases or drops quarantined updates (`hamsync deferred release|drop`).',
  HAMSYNC_ERR_FILE: 'A file named on the command line cannot be read or written (missing, permissions, disk full, broken pipe).',
  HAMSYNC_ERR_CLOSED: 'The replica or store was used after close().',
  HAMSYNC_ERR_AUTH: 'A broker login was refused (unknown user, wrong password, no credentials, a client id or will topic the user may not use); or, on the broker\'s admin API beyond loopback, a request without the HTTP Basic login of an admin user (HTTP 401).',
  HAMSYNC_ERR_ACL: 'A publish or subscribe was refused by the broker\'s access rules for the client\'s role.',
  HAMSYNC_ERR_USERS: 'A users file is not valid (bad JSON, unknown role, bad user id or namespace, missing salt or hash), or a user command cannot be done.',
  HAMSYNC_ERR_SIGNATURE: 'An update\'s Ed25519 signature is missing (its source has a known public key, or signatures are required), malformed, or does not verify; the whole batch is refused.',
  HAMSYNC_ERR_SIGNING_KEY: 'A signing key is not valid: a public key that is not 43 base64url characters of a raw Ed25519 key, a private key file that is not Ed25519 PKCS#8 PEM, or a keys file of the wrong shape.',
  HAMSYNC_ERR_LOCKED: 'A data directory is in use by another process (a daemon, broker or import, whose pid the message names); only one may write it at a time. Read-only replay and export are allowed beside it.',
  HAMSYNC_ERR_IDENTITY: 'A data directory belongs to another device id, namespace or role (daemon or broker) than the one starting on it, or a put message in its outbox comes from another device; nothing was sent.',
  HAMSYNC_ERR_NOT_FOUND: 'An HTTP API has no such route, or a key has no value and no update waiting for it (HTTP 404).',
  HAMSYNC_ERR_METHOD: 'An HTTP route does not take this method; the Allow header lists those it takes (HTTP 405).',
  HAMSYNC_ERR_INTERNAL: 'An HTTP API failed unexpectedly; the fault is logged (HTTP 500).',
  HAMSYNC_ERR_DEFERRED_ONLY: 'A key has no live value yet, but updates for it wait in the deferred queue or the quarantine (HTTP 404; the body says how many and the earliest state).',
  HAMSYNC_ERR_HOST: 'An HTTP request\'s Host header is not the API\'s loopback address or localhost with its port (a DNS-rebinding guard; HTTP 403).',
  HAMSYNC_ERR_MEDIA_TYPE: 'An HTTP request that changes data is not sent as content-type application/json (a cross-site request guard; HTTP 415).',
  HAMSYNC_ERR_BODY_TIMEOUT: 'An HTTP request body did not arrive whole within the read timeout (10 s); the connection is closed (HTTP 408).',
  HAMSYNC_ERR_CLOCK: 'A local put was refused because the daemon\'s clock, or the stamp it would give (its high-water mark), is further ahead of the reference time (the hub\'s clock, GPS) than maxClockAhead; nothing was stored. See docs/clock-guard.md and `hamsync clock reset`.',
  HAMSYNC_ERR_STREAMS: 'The broker\'s admin API already serves its most event streams at once (GET /v1/events, 8 by default; each open dashboard holds one); close one and retry (HTTP 503).',
  HAMSYNC_ERR_VERIFY_FULL: 'A signed put was refused because the signature verification queue already holds its most updates (65,536 waiting or being verified by the worker threads); nothing of it was stored or acknowledged, and the sender sends it again (HTTP 503).',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export class HamsyncError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(`${code}: ${message}`);
    this.name = 'HamsyncError';
    this.code = code;
    this.details = details;
  }
}

export function isHamsyncError(err: unknown, code?: ErrorCode): err is HamsyncError {
  return err instanceof HamsyncError && (code === undefined || err.code === code);
}

/** Short, safe rendering of a value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return 'a symbol';
  return Array.isArray(value) ? 'an array' : 'an object';
}
