import { HamsyncError, describe } from '../errors.js';
import { assertSource } from '../model/keys.js';
import { parseDuration, parseHostPort } from '../util/duration.js';
import { assertKeyFilter, assertNamespace } from '../wire/topics.js';

/** Options of `hamsync daemon`, as given (CLI, config file or code). */
export interface DaemonInput {
  /** Device id, 1-64 of [A-Za-z0-9_-]. Required. */
  id: string;
  /** Broker URL: mqtt://host:port, mqtts://host:port, ws:// or wss://. Default mqtt://127.0.0.1:1883. */
  broker?: string;
  /** Data directory of the device's replica. Required. */
  dataDir: string;
  /** Namespace. Default "default". */
  ns?: string;
  /** Clock offset, a duration (+5s, -2m) or ms. Default 0. */
  clockOffset?: string | number;
  /** Key filters (MQTT-style + and #) this device replicates. Default ["#"]. */
  subscribe?: string[];
  /** Local HTTP API address, host:port. Default 127.0.0.1:7878. */
  http?: string;
  /** CA certificate file for mqtts:// / wss://. */
  ca?: string;
  /** MQTT username and password, if the broker asks for them. */
  username?: string;
  password?: string;
  /** Put messages in flight to the broker at once. Default 64. */
  window?: number;
}

export interface DaemonConfig {
  id: string;
  broker: string;
  dataDir: string;
  ns: string;
  clockOffsetMs: number;
  subscribe: string[];
  http: { host: string; port: number };
  ca: string | undefined;
  username: string | undefined;
  password: string | undefined;
  window: number;
}

const BROKER_URL = /^(mqtts?|wss?):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\/\S*)?$/;

/** Validates once, at start: every error names the field and the value it got. */
export function daemonConfig(input: DaemonInput): DaemonConfig {
  assertSource(input.id);
  const broker = input.broker ?? 'mqtt://127.0.0.1:1883';
  if (!BROKER_URL.test(broker)) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `broker must be a URL like mqtt://host:1883 or mqtts://host:8883, got ${describe(broker)}`, { field: 'broker' });
  }
  if (typeof input.dataDir !== 'string' || input.dataDir === '') {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `dataDir is required, got ${describe(input.dataDir)}`, { field: 'dataDir' });
  }
  const ns = input.ns ?? 'default';
  assertNamespace(ns);
  const subscribe = input.subscribe && input.subscribe.length > 0 ? input.subscribe : ['#'];
  subscribe.forEach((f) => assertKeyFilter(f));
  const window = input.window ?? 64;
  if (!Number.isInteger(window) || window < 1 || window > 65535) {
    throw new HamsyncError('HAMSYNC_ERR_CONFIG', `window must be an integer from 1 to 65535, got ${describe(window)}`, { field: 'window' });
  }
  return {
    id: input.id,
    broker,
    dataDir: input.dataDir,
    ns,
    clockOffsetMs: parseDuration(input.clockOffset ?? 0, 'clockOffset'),
    subscribe,
    http: parseHostPort(input.http ?? '127.0.0.1:7878', 'http'),
    ca: input.ca,
    username: input.username,
    password: input.password,
    window,
  };
}
