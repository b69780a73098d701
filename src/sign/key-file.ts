/**
 * Key files. A private key is a PKCS#8 PEM file ("-----BEGIN PRIVATE KEY-----"), mode 0600; its
 * public key sits beside it in FILE.pub as one line of base64url (mode 0644).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { HamsyncError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { readTextOrFail as readText } from '../util/read-file.js';
import { assertPublicKey, encodePublicKey } from './public-key.js';

export interface SigningKey {
  privateKey: KeyObject;
  /** base64url raw public key (43 characters). */
  pub: string;
}

export function generateSigningKey(): SigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, pub: encodePublicKey(privateKey) };
}

/** Reads an Ed25519 private key from a PKCS#8 PEM file (as `key generate` writes). */
export function loadPrivateKey(file: string): KeyObject {
  const text = readText(file, 'private key file');
  if (!text.includes('-----BEGIN PRIVATE KEY-----')) {
    const got = text.includes('-----BEGIN PUBLIC KEY-----') || /^[A-Za-z0-9_-]{43}\s*$/.test(text) ? 'a public key' : text.includes('-----BEGIN') ? 'another kind of PEM' : 'no PEM';
    throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `${file}: expected an Ed25519 private key in PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), got ${got}`, { file });
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `${file}: not a readable PKCS#8 private key (${(err as Error).message})`, { file });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `${file}: expected an Ed25519 private key, got ${key.asymmetricKeyType ?? 'an unknown type'}`, { file });
  }
  return key;
}

export interface SaveKeyOptions {
  /** Replace FILE and FILE.pub if they exist. Default false: refuse (HAMSYNC_ERR_FILE), touching neither. */
  force?: boolean;
}

/** Writes `key` to FILE (PKCS#8 PEM, mode 0600) and its public key to FILE.pub; returns both paths and the public key. */
export function savePrivateKey(file: string, key: KeyObject, options: SaveKeyOptions = {}): { file: string; pubFile: string; pub: string } {
  const force = options.force ?? false;
  const pub = encodePublicKey(key);
  if (key.type !== 'private') throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', 'savePrivateKey needs a private key');
  const pem = key.export({ format: 'pem', type: 'pkcs8' }) as string;
  const pubFile = `${file}.pub`;
  if (!force) {
    for (const f of [file, pubFile]) {
      if (fs.existsSync(f)) throw new HamsyncError('HAMSYNC_ERR_FILE', `${f} already exists; not overwriting it (use --force to replace the key)`, { file: f });
    }
  }
  write(file, pem, 0o600, force);
  try {
    write(pubFile, `${pub}\n`, 0o644, force);
  } catch (err) {
    fs.rmSync(file, { force: true });
    throw err;
  }
  return { file, pubFile, pub };
}

function write(file: string, data: string, mode: number, overwrite: boolean): void {
  try {
    writeFileAtomic(file, data, { mode, overwrite });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') throw new HamsyncError('HAMSYNC_ERR_FILE', `${file} already exists; not overwriting it (use --force to replace the key)`, { file });
    throw new HamsyncError('HAMSYNC_ERR_FILE', `cannot write key file ${file}: ${e.message}`, { file });
  }
}

/**
 * A public key given on the command line: base64url itself, or `@FILE` naming a file that holds
 * it (a FILE.pub from `key generate`, or an SPKI "-----BEGIN PUBLIC KEY-----" PEM). `field` names
 * the option in errors.
 */
export function readPublicKeyArg(arg: string, field = '--pub'): string {
  if (!arg.startsWith('@')) {
    assertPublicKey(arg, field);
    return arg;
  }
  const file = arg.slice(1);
  const text = readText(file, 'public key file').trim();
  if (text.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `${field} ${file} holds a private key; give the public key (${file}.pub, or \`hamsync key show --key ${file}\`)`, { field, file });
  }
  if (text.includes('-----BEGIN PUBLIC KEY-----')) {
    let key: KeyObject;
    try {
      key = createPublicKey({ key: text, format: 'pem' });
    } catch (err) {
      throw new HamsyncError('HAMSYNC_ERR_SIGNING_KEY', `${field} ${file}: not a readable public key PEM (${(err as Error).message})`, { field, file });
    }
    return encodePublicKey(key);
  }
  assertPublicKey(text, `${field} ${file}:`);
  return text;
}
