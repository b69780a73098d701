import type { MqttClient } from 'mqtt';

/** Subscribes and returns the granted QoS of each filter from the SUBACK (mqtt.js turns a 128 into an error). */
export function granted(client: MqttClient, filters: string[]): Promise<number[]> {
  return new Promise((resolve) => {
    const onPacket = (p: { cmd: string; granted?: (number | object)[] }): void => {
      if (p.cmd !== 'suback') return;
      client.off('packetreceive', onPacket);
      resolve((p.granted ?? []).map((g) => (typeof g === 'number' ? g : -1)));
    };
    client.on('packetreceive', onPacket);
    client.subscribe(filters, { qos: 1 }, () => undefined);
  });
}
