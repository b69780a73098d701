/**
 * A TCP proxy in front of a broker that counts the bytes in each direction, for byte-accounting
 * tests: `down` = bytes the broker sent to the client, `up` = bytes the client sent. It can be
 * severed (every connection cut, no longer listening) and started again on the same port, and
 * its target changed (a broker restarted on another port). `partition()` makes it a silent
 * black hole (connections stay open, nothing is forwarded either way, new ones are accepted but
 * not connected onward), like a link that drops every packet; `heal()` lets everything through again.
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

  /** While true, nothing is forwarded (see partition). */
  private held = false;
  private readonly waiting: (() => void)[] = [];

  constructor(public targetPort: number, private readonly host = '127.0.0.1') {}

  /** Stops forwarding in both directions without closing anything (a silent partition). */
  partition(): void {
    this.held = true;
    for (const s of this.sockets) s.pause();
  }

  /** Forwards again: held bytes flow, held new connections are connected onward. */
  heal(): void {
    this.held = false;
    for (const s of this.sockets) s.resume();
    for (const go of this.waiting.splice(0)) go();
  }

  get partitioned(): boolean {
    return this.held;
  }

  /** New connections accepted during the partition and not yet connected onward. */
  get heldConnections(): number {
    return this.waiting.length;
  }

  /** Listens (on `port`, default: the port it had, or any free one the first time). */
  async start(port = this.port): Promise<void> {
    const server = net.createServer((down) => {
      if (this.held) {
        down.pause();
        down.on('error', () => down.destroy());
        this.sockets.add(down);
        down.on('close', () => this.sockets.delete(down));
        this.waiting.push(() => {
          this.sockets.delete(down);
          if (!down.destroyed) this.pipe(down);
        });
        return;
      }
      this.pipe(down);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.host, () => resolve());
    });
    this.server = server;
    this.port = (server.address() as net.AddressInfo).port;
  }

  private pipe(down: net.Socket): void {
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
    down.resume();
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
