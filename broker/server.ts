import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { peerCommonName, tagPeer, tlsServerOptions, type TlsOptions } from './tls.js';
import { Aedes, type AedesPublishPacket } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { HamsyncError } from '../src/errors.js';
import { checkNumber, POSITIVE_INT } from '../src/util/check.js';
import { silentLogger, type Logger } from '../src/log.js';
import { Keyring, loadKeysFile } from '../src/sign/keyring.js';
import { Replica, type ReplicaOptions } from '../src/sync/replica.js';
import { DEFAULT_WIRE_LIMITS, type WireLimits } from '../src/wire/codec.js';
import { Guard, type AuthOptions } from './auth.js';
import { GatedStream } from './frame-gate.js';
import { gatePackets } from './conformance.js';
import { clip } from './log-fields.js';
import { LogThrottle, suppressedField } from '../src/log-throttle.js';
import { startAdminApi } from './admin-http.js';
import { adminAccess } from './web/admin-login.js';
import type { UsersFile } from '../src/auth/users.js';
import { ProcessInfo } from '../src/admin/process-info.js';
import { Hub } from './hub.js';
import { authorize } from './authorize.js';
import { createContext } from '../src/context.js';
import { BROKER_DEFAULTS } from '../src/config/broker-options.js';
import type { RateLimitOptions } from './rate-limit.js';
import type { ClusterOptions } from './cluster/options.js';
import type { MqBridge } from './cluster/mq-bridge.js';
import { ClusterNode } from './cluster/node.js';

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
  /**
   * Largest MQTT packet accepted, in bytes (header included), checked from each packet's fixed
   * header before Aedes parses or buffers it; a bigger one closes the connection. Default
   * maxPayloadBytes + 64 KiB (a put of the largest payload with the longest topic fits).
   */
  maxPacketBytes?: number;
  /** Most simultaneous connections (TCP and WebSocket each). Default 10000. */
  maxConnections?: number;
  /** A client whose outgoing queue makes no progress for this many ms is disconnected. Default 30000. */
  drainTimeoutMs?: number;
  /**
   * Most bytes queued for one client that is not reading (a slow consumer); beyond it the client
   * is disconnected so it can neither hold up delivery to others nor grow memory. Default 32 MiB.
   */
  maxQueuedBytes?: number;
  /** Per-device put rate limit (updates/s with a burst); see broker/rate-limit.ts. */
  rateLimit?: RateLimitOptions;
  /**
   * Change log entries the hub keeps for sync v2 feeds; older ones are pruned in bounded steps,
   * and a follower whose position is older gets a snapshot. Default 1,000,000.
   */
  syncLogMax?: number;
  /**
   * Signed updates: devices' public keys from a keys file (`{"version":1,"keys":{...}}`), merged
   * with the `pub` of the users file's users (re-read with it). A put from a device with a key
   * must carry its valid signatures; otherwise it is refused and the client disconnected.
   * Default: no keys file (the users file's keys only, if any).
   */
  keysFile?: string;
  /** Refuse puts from devices without a known public key too. Default false. */
  requireSigned?: boolean;
  /**
   * The admin HTTP API and the drift dashboard (status, fleet, deferred queue, quarantine
   * release/drop); undefined: none. On a loopback address without a login; on any other only
   * with `tls` (served over HTTPS) and `auth` with an admin user (HTTP Basic login).
   */
  http?: { host: string; port: number };
  /** Extra replica options (clock, limits, queue caps and horizon). */
  replica?: Omit<ReplicaOptions, 'dataDir'>;
  /** Be one node of a hub cluster on Redis (broker/cluster/); undefined: a single broker. */
  cluster?: ClusterOptions;
}

/** Longest client id accepted, for every protocol version (CONNACK 2 beyond it). */
export const MAX_CLIENT_ID_LENGTH = 128;

export interface RunningBroker {
  readonly port: number;
  readonly wsPort: number | undefined;
  /** Port of the admin HTTP API, when started. */
  readonly httpPort: number | undefined;
  readonly hub: Hub;
  readonly replica: Replica;
  readonly aedes: Aedes;
  /** Pub/sub between the nodes of a cluster (broker/cluster/mq-bridge.ts); undefined without `cluster`. */
  readonly mqBridge: MqBridge | undefined;
  /** This broker's hub cluster node, with `cluster` (broker/cluster/node.ts). */
  readonly cluster: ClusterNode | undefined;
  close(): Promise<void>;
}

/** The MQTT URL peers reach a node at by default: its listener (127.0.0.1 for a wildcard address). */
export function defaultAdvertise(host: string, port: number, tls: boolean): string {
  const h = host === '0.0.0.0' || host === '::' || host === '' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  return `${tls ? 'mqtts' : 'mqtt'}://${h}:${port}`;
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
  const info = new ProcessInfo();
  const log = info.track(options.log ?? silentLogger);
  const host = options.host ?? '0.0.0.0';
  const wire = options.wire ?? DEFAULT_WIRE_LIMITS;
  const maxPacketBytes = checkNumber(options.maxPacketBytes ?? wire.maxPayloadBytes + BROKER_DEFAULTS.packetHeadroomBytes, 'maxPacketBytes', POSITIVE_INT);
  const maxConnections = checkNumber(options.maxConnections ?? BROKER_DEFAULTS.maxConnections, 'maxConnections', POSITIVE_INT);
  const drainTimeout = checkNumber(options.drainTimeoutMs ?? BROKER_DEFAULTS.drainTimeoutMs, 'drainTimeoutMs', POSITIVE_INT);
  const maxQueuedBytes = checkNumber(options.maxQueuedBytes ?? BROKER_DEFAULTS.maxQueuedBytes, 'maxQueuedBytes', POSITIVE_INT);
  const syncLogMax = checkNumber(options.syncLogMax ?? BROKER_DEFAULTS.syncLogMax, 'syncLogMax', POSITIVE_INT);
  // Read the users file first: a bad one fails the start before anything is opened.
  const ctx = createContext({ ns: options.ns, log, limits: wire });
  const guard = options.auth ? new Guard(ctx, options.auth) : undefined;
  // Checked before anything is opened: beyond loopback the admin API needs TLS and an admin user.
  const users = guard ? (): UsersFile => (guard.reloadIfChanged(), guard.currentUsers) : undefined;
  const remote = options.http === undefined ? undefined : adminAccess(options.http, options.tls, users);
  // Likewise the public keys: the keys file's, and the users file's (rebuilt when it is reloaded).
  const fileKeys = options.keysFile === undefined ? new Keyring() : loadKeysFile(options.keysFile);
  const keyringOf = (users = guard?.currentUsers): Keyring => (users ? Keyring.merge(Keyring.fromUsers(users), fileKeys) : fileKeys);
  const keyring = keyringOf();
  // The hub keeps the change log that sync v2 feeds read (positions durable with their batches).
  const replica = await Replica.open({ ...options.replica, dataDir: options.dataDir, lock: 'broker', owner: { role: 'broker', ns: options.ns ?? 'default' }, changeLog: true });
  if (replica.migratedFrom !== undefined) log.info(`data dir migrated from store format ${replica.migratedFrom} to 2`, { dataDir: options.dataDir });
  replica.retention?.on('pruned', (run) => log.info('history pruned', { ...run }));
  // In a cluster, Aedes' messages go through the bridge: local at once, bridged topics also to the other nodes.
  let forwardable = (_packet: unknown): boolean => true;
  // Loaded only for a cluster node: a single broker does not load ioredis.
  const mqBridge = options.cluster
    ? new (await import('./cluster/mq-bridge.js')).MqBridge({ url: options.cluster.url, nodeId: options.cluster.nodeId, ns: ctx.ns, counters: ctx.counters, log, forwardable: (p) => forwardable(p) })
    : undefined;
  const aedes = await Aedes.createBroker({ maxClientsIdLength: MAX_CLIENT_ID_LENGTH, heartbeatInterval: 60_000, drainTimeout, ...(mqBridge ? { id: options.cluster?.nodeId, mq: mqBridge } : {}) });
  mqBridge?.attach(aedes);
  const hub = new Hub(ctx, { replica, rateLimit: options.rateLimit, syncLogMax, keyring, requireSigned: options.requireSigned });
  forwardable = (p) => hub.authorizeForward(p as AedesPublishPacket) !== null;
  guard?.onReload((users) => {
    try {
      hub.setKeyring(keyringOf(users));
      log.info('public keys reloaded', { keys: hub.keyCount });
    } catch (err) {
      // Two different keys for one device (users file vs keys file): keep the keys we had.
      log.error('public keys not reloaded; keeping the previous keys', { code: (err as { code?: string }).code, err: (err as Error).message });
    }
  });
  // Protocol violations: counted, logged at most once a second per rule (a flood of bad CONNECTs is one line).
  const violationLog = new LogThrottle();
  // Every connection goes through the size gate before Aedes' parser sees a byte, and every
  // parsed packet through the MQTT conformance checks before Aedes handles it.
  // Every open connection, also those that never sent a CONNECT (Aedes knows only clients that did):
  // closing the broker ends them all, else a listener's close waits for them.
  const streams = new Set<Duplex>();
  const handle = (stream: Duplex, cn: string | undefined, req?: IncomingMessage): void => {
    streams.add(stream);
    stream.once('close', () => streams.delete(stream));
    const gated = new GatedStream(stream, {
      maxPacketBytes,
      maxQueuedBytes,
      stallMs: drainTimeout,
      onCut: (why, err) => {
        hub.counters.inc(`connections.${why}`);
        log.warn('connection closed by the gate', { code: why === 'packet-too-large' ? 'HAMSYNC_ERR_TOO_LARGE' : undefined, why, err: err.message, remote: (stream as { remoteAddress?: string }).remoteAddress });
      },
    });
    const client = aedes.handle(tagPeer(gated, cn), req);
    const remote = (stream as { remoteAddress?: string }).remoteAddress;
    gatePackets(client, MAX_CLIENT_ID_LENGTH, (v) => {
      hub.counters.inc('mqtt.violations');
      hub.counters.inc(`mqtt.violation.${v.rule}`);
      const line = violationLog.take(v.rule);
      if (line) log.warn('MQTT packet refused; closing the connection', { rule: v.rule, reason: v.reason, connack: v.connack, remote, ...suppressedField(line) });
    });
  };
  // The ACL and the hub's write-before-ack, composed explicitly (broker/authorize.ts).
  authorize(aedes, hub, guard);
  hub.attach(aedes);
  guard?.attach(aedes);
  aedes.on('clientError', (client, err) => log.debug('client error', { client: clip(client.id), err: clip(err.message) }));
  aedes.on('connectionError', (client, err) => log.debug('connection error', { client: clip(client.id), err: clip(err.message) }));

  const secure = options.tls ? tlsServerOptions(options.tls) : undefined;
  const tcp: Server = secure
    ? createTlsServer(secure, (socket) => {
        socket.setNoDelay(true);
        handle(socket, peerCommonName(socket));
      }).on('tlsClientError', (err) => log.debug('TLS handshake failed', { err: err.message }))
    : createServer({ noDelay: true }, (socket) => handle(socket, undefined));
  tcp.maxConnections = maxConnections;
  let http: HttpServer | undefined;
  let admin: HttpServer | undefined;
  let wss: WebSocketServer | undefined;
  let cluster: ClusterNode | undefined;
  const closeAll = async (): Promise<void> => {
    // Stop accepting, then close every client (Aedes), then wait for the listeners to finish.
    admin?.closeAllConnections();
    const closed = [tcp, http, admin].filter((s): s is Server | HttpServer => s?.listening === true).map((s) => new Promise((r) => s.close(r)));
    for (const ws of wss?.clients ?? []) ws.terminate();
    wss?.close();
    http?.closeAllConnections();
    await new Promise<void>((r) => aedes.close(() => r()));
    mqBridge?.close();
    for (const s of streams) s.destroy();
    streams.clear();
    await Promise.all(closed);
    // Before the replica closes: a batch from the stream being applied ends first.
    await cluster?.stop();
    await hub.detach();
    await replica.close();
  };
  try {
    const port = await listen(tcp, options.port ?? 1883, host, 'MQTT');
    if (options.cluster) {
      // After the listener: the advertised URL names its port.
      const c = options.cluster;
      const node = new ClusterNode(ctx, replica, { ...c, advertise: c.advertise ?? defaultAdvertise(host, port, secure !== undefined) });
      cluster = node;
      // Rows not yet pushed to the shared stream stay in the change log.
      hub.sync.holdLog(() => node.pusher.pushed);
      node.start();
    }
    let wsPort: number | undefined;
    if (options.wsPort !== undefined) {
      http = secure ? createHttpsServer(secure) : createHttpServer();
      wss = new WebSocketServer({ server: http });
      // ws re-emits its server's errors (EADDRINUSE) on itself; listen() below turns them into HAMSYNC_ERR_LISTEN.
      wss.on('error', (err) => log.debug('WebSocket server error', { err: err.message }));
      wss.on('connection', (ws, req) => {
        (req.socket as { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
        const cn = secure ? peerCommonName(req.socket as TLSSocket) : undefined;
        handle(createWebSocketStream(ws), cn, req);
      });
      http.maxConnections = maxConnections;
      wsPort = await listen(http, options.wsPort, host, 'MQTT over WebSocket');
    }
    let httpPort: number | undefined;
    if (options.http !== undefined) {
      const api = await startAdminApi(options.http, hub, replica, log, { info, clients: () => aedes.connectedClients, listening: () => tcp.listening, cluster: () => cluster }, remote ? { remote } : {});
      admin = api.server;
      httpPort = api.port;
    }
    log.info('broker listening', {
      host, port, wsPort, http: httpPort === undefined ? 'off' : `${options.http?.host ?? ''}:${httpPort}`, ...(remote ? { httpAccess: 'TLS and admin login' } : {}), dataDir: options.dataDir, ns: hub.ns, tls: secure ? (options.tls?.ca ? 'mutual' : 'server') : 'off',
      auth: guard ? { users: options.auth?.usersFile, userCount: guard.userCount, allowAnonymous: options.auth?.allowAnonymous === true } : 'none (open broker)',
      signatures: { keys: hub.keyCount, ...(options.keysFile === undefined ? {} : { keysFile: options.keysFile }), requireSigned: options.requireSigned === true },
    });
    return { port, wsPort, httpPort, hub, replica, aedes, mqBridge, cluster, close: closeAll };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
