import type { TlsOptions as NodeTlsOptions, TLSSocket } from 'node:tls';
import { readFileOrFail } from '../src/util/read-file.js';

/** TLS for the broker's listeners: PEM files. With `ca`, clients must present a certificate it signed (mutual TLS). */
export interface TlsOptions {
  cert: string;
  key: string;
  ca?: string;
}

/** A PEM file named by option `field` (tlsCert, tlsKey, tlsCa). */
function read(path: string, field: string): Buffer {
  return readFileOrFail(path, `${field} file`);
}

/** Reads the PEM files once, at start; errors name the option. */
export function tlsServerOptions(o: TlsOptions): NodeTlsOptions {
  const ca = o.ca === undefined ? undefined : read(o.ca, 'tlsCa');
  return {
    cert: read(o.cert, 'tlsCert'),
    key: read(o.key, 'tlsKey'),
    minVersion: 'TLSv1.2',
    ...(ca ? { ca, requestCert: true, rejectUnauthorized: true } : {}),
  };
}

/** Where the broker notes a client certificate's CN on the stream it hands to Aedes. */
export const PEER_CN = 'hamsyncPeerCN';

/** The CN of a verified client certificate, if the connection has one. */
export function peerCommonName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const cn = socket.getPeerCertificate()?.subject?.CN;
  return typeof cn === 'string' && cn !== '' ? cn : undefined;
}

/** Tags a stream with its peer's CN (read back by the login check). */
export function tagPeer<T extends object>(stream: T, cn: string | undefined): T {
  if (cn !== undefined) Object.defineProperty(stream, PEER_CN, { value: cn });
  return stream;
}

export function taggedPeer(stream: unknown): string | undefined {
  const v = (stream as Record<string, unknown> | undefined)?.[PEER_CN];
  return typeof v === 'string' ? v : undefined;
}
