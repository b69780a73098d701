import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { peerCommonName, tagPeer, tlsServerOptions, type TlsOptions } from './tls.js';
import { Aedes } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { HamsyncError } from '../src/errors.js';
import { silentLogger, type Logger } from '../src/log.js';
import { Replica, type ReplicaOptions } from '../src/sync/replica.js';
import type { WireLimits } from '../src/wire/codec.js';
import { Guard, type AuthOptions } from './auth.js';
import { Hub } from './hub.js';

export interface BrokerOptions {
  /** TCP port for MQTT; 0 picks a free one. Default 1883. */
  port?: number;
  /** Address to listen on. Default "0.0.0.0" (all IPv4 interfaces). */
  host?: string;
  /** Port for MQTT over WebSocket; undefined: no WebSocket listener. */
  wsPort?: number;
  /** Hub replica data directory. Required. */
  dataDir: string;
  /** Namespace the hub resolves. Default "default". */
  ns?: string;
  log?: Logger;
  wire?: WireLimits;
  /**
   * Require authentication against a users file (and apply the topic ACLs); undefined: the broker
   * is open, as before. See broker/auth.ts and README "Security".
   */
  auth?: AuthOptions;
  /** TLS on the MQTT and WebSocket listeners (with `ca`: mutual TLS, the certificate's CN is the user id). */
  tls?: TlsOptions;
  /** Extra replica options (clock, limits) — for tests and simulations. */
  replica?: Omit<ReplicaOptions, 'dataDir'>;
}

export interface RunningBroker {
  readonly port: number;
  readonly wsPort: number | undefined;
  readonly hub: Hub;
  readonly replica: Replica;
  readonly aedes: Aedes;
  close(): Promise<void>;
}

function listen(server: Server | HttpServer, port: number, host: string, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EACCES' ? 'permission denied' : err.message;
      reject(new HamsyncError('HAMSYNC_ERR_LISTEN', `cannot listen for ${what} on ${host}:${port}: ${why}`, { port, host }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Starts Aedes with the hub replica attached, on TCP (and optionally WebSocket). */
export async function startBroker(options: BrokerOptions): Promise<RunningBroker> {
  const log = options.log ?? silentLogger;
  const host = options.host ?? '0.0.0.0';
  // Read the users file first: a bad one fails the start before anything is opened.
  const guard = options.auth ? new Guard(options.auth, log) : undefined;
  const replica = await Replica.open({ ...options.replica, dataDir: options.dataDir });
  replica.retention?.on('pruned', (run) => log.info('history pruned', { ...run }));
  const aedes = await Aedes.createBroker({ maxClientsIdLength: 128, heartbeatInterval: 60_000 });
  const hub = new Hub({ replica, ns: options.ns, log, wire: options.wire });
  hub.attach(aedes);
  guard?.attach(aedes, hub.counters);
  aedes.on('clientError', (client, err) => log.debug('client error', { client: client.id, err: err.message }));
  aedes.on('connectionError', (client, err) => log.debug('connection error', { client: client.id, err: err.message }));

  const secure = options.tls ? tlsServerOptions(options.tls) : undefined;
  const tcp: Server = secure
    ? createTlsServer(secure, (socket) => {
        socket.setNoDelay(true);
        aedes.handle(tagPeer(socket, peerCommonName(socket)));
      }).on('tlsClientError', (err) => log.debug('TLS handshake failed', { err: err.message }))
    : createServer({ noDelay: true }, (socket) => aedes.handle(socket));
  let http: HttpServer | undefined;
  let wss: WebSocketServer | undefined;
  const closeAll = async (): Promise<void> => {
    // Stop accepting, then close every client (Aedes), then wait for the listeners to finish.
    const closed = [tcp, http].filter((s): s is Server | HttpServer => s?.listening === true).map((s) => new Promise((r) => s.close(r)));
    for (const ws of wss?.clients ?? []) ws.terminate();
    wss?.close();
    http?.closeAllConnections();
    await new Promise<void>((r) => aedes.close(() => r()));
    await Promise.all(closed);
    hub.detach();
    await replica.close();
  };
  try {
    const port = await listen(tcp, options.port ?? 1883, host, 'MQTT');
    let wsPort: number | undefined;
    if (options.wsPort !== undefined) {
      http = secure ? createHttpsServer(secure) : createHttpServer();
      wss = new WebSocketServer({ server: http });
      wss.on('connection', (ws, req) => {
        (req.socket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
        const cn = secure ? peerCommonName(req.socket as TLSSocket) : undefined;
        aedes.handle(tagPeer(createWebSocketStream(ws), cn), req);
      });
      wsPort = await listen(http, options.wsPort, host, 'MQTT over WebSocket');
    }
    log.info('broker listening', {
      host, port, wsPort, dataDir: options.dataDir, ns: hub.ns, tls: secure ? (options.tls?.ca ? 'mutual' : 'server') : 'off',
      auth: guard ? { users: options.auth?.usersFile, userCount: guard.userCount, allowAnonymous: options.auth?.allowAnonymous === true } : 'none (open broker)',
    });
    return { port, wsPort, hub, replica, aedes, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
