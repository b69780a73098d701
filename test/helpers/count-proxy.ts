/**
 * A TCP proxy in front of a broker that counts the bytes in each direction, for byte-accounting
 * tests: `down` = bytes the broker sent to the client, `up` = bytes the client sent. It can be
 * severed (every connection cut, no longer listening) and started again on the same port, and
 * its target changed (a broker restarted on another port).
 */
import net from 'node:net';

export class CountingProxy {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  /** Bytes broker → client since the last reset. */
  down = 0;
  /** Bytes client → broker since the last reset. */
  up = 0;
  /** Connections accepted since the proxy was made. */
  connections = 0;
  /** performance.now() when the last connection was accepted (0: none yet). */
  connectedAt = 0;

  constructor(public targetPort: number, private readonly host = '127.0.0.1') {}

  /** Listens (on `port`, default: the port it had, or any free one the first time). */
  async start(port = this.port): Promise<void> {
    const server = net.createServer((down) => {
      this.connections++;
      this.connectedAt = performance.now();
      const up = net.connect({ host: this.host, port: this.targetPort });
      down.setNoDelay(true);
      up.setNoDelay(true);
      for (const s of [down, up]) {
        this.sockets.add(s);
        s.on('close', () => {
          this.sockets.delete(s);
          down.destroy();
          up.destroy();
        });
        s.on('error', () => {
          down.destroy();
          up.destroy();
        });
      }
      up.on('data', (b: Buffer) => {
        this.down += b.length;
      });
      down.on('data', (b: Buffer) => {
        this.up += b.length;
      });
      down.pipe(up);
      up.pipe(down);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `mqtt://${this.host}:${this.port}`;
  }

  reset(): void {
    this.down = 0;
    this.up = 0;
  }

  /** Stops accepting and cuts every open connection. */
  async sever(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise((r) => server.close(r));
  }
}
