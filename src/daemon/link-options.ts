import type { IClientOptions } from 'mqtt';
import { encodePresence } from '../wire/codec.js';
import { topics } from '../wire/topics.js';
import { readFileOrFail } from '../util/read-file.js';
import type { DaemonConfig } from './options.js';

/**
 * The mqtt.js options of the daemon's session (src/daemon/link.ts): a persistent session under a
 * fixed client id, our own reconnects, the offline presence as the will, TLS files and a login.
 * `writeCache: false`: mqtt.js would otherwise build a cache of 65,536 two-byte Buffers for
 * packet ids and lengths (about 6 MB of RSS on a Pi, measured in docs/operations.md "Raspberry
 * Pi budget"); a device sends a few packets a second, so writing the numbers as it goes costs nothing.
 */
export function linkOptions(config: DaemonConfig): IClientOptions {
  const { id, ns } = config;
  const options: IClientOptions = {
    clientId: `hamsync-${id}`,
    clean: false,
    // Reconnects are the Reconnector's (mqtt.js would never retry a refused CONNACK).
    reconnectPeriod: 0,
    connectTimeout: 10_000,
    keepalive: 30,
    writeCache: false,
    will: { topic: topics.presence(ns, id), payload: Buffer.from(encodePresence(false)), qos: 1, retain: true },
  };
  if (config.ca) options.ca = readFileOrFail(config.ca, 'ca file');
  if (config.cert) options.cert = readFileOrFail(config.cert, 'cert file');
  if (config.key) options.key = readFileOrFail(config.key, 'key file');
  if (config.username !== undefined) options.username = config.username;
  if (config.password !== undefined) options.password = config.password;
  return options;
}
