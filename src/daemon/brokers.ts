/**
 * Device failover between the nodes of a hub cluster: the daemon's one MQTT client connects to
 * the broker URLs in turn, moving to the next one each time a connection ends or an attempt
 * fails; the Reconnector (reconnect.ts) spaces the attempts with its backoff. Each URL keeps its
 * own transport (mqtt, mqtts, ws, wss with its path, TLS server name): mqtt.js builds one stream
 * builder per URL, and the client uses the current one at each attempt. Any node is as good as
 * another (every node holds every update), and the daemon keeps one sync position per hub
 * identity (src/store/cursor.ts), so a move resumes where it left that node.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/** mqtt.js' stream builder, per client (a private member: we only swap it). */
type StreamBuilder = (client: MqttClient) => unknown;

export class BrokerList {
  private index = 0;

  private constructor(readonly urls: readonly string[]) {}

  /**
   * Connects to `urls[0]`; with more than one URL, each later attempt goes to the next URL
   * after the last connection (or attempt) ended.
   */
  static connect(urls: readonly string[], options: IClientOptions): { client: MqttClient; brokers: BrokerList } {
    if (urls.length === 0) throw new Error('no broker URL');
    const brokers = new BrokerList(urls);
    const client = mqtt.connect(urls[0] as string, options);
    if (urls.length > 1) {
      // Each URL parsed by mqtt.js as it would for its own client (never connected).
      const builders = urls.map((url) => (mqtt.connect(url, { ...options, manualConnect: true }) as unknown as { streamBuilder: StreamBuilder }).streamBuilder);
      (client as unknown as { streamBuilder: StreamBuilder }).streamBuilder = (c) => (builders[brokers.index] as StreamBuilder)(c);
      client.on('close', () => {
        brokers.index = (brokers.index + 1) % urls.length;
      });
    }
    return { client, brokers };
  }

  /** The broker connected to, or tried next. */
  get current(): string {
    return this.urls[this.index] as string;
  }
}
