/**
 * Child processes of the cluster bench: a private redis-server (a free port, its own temp dir;
 * never the machine's shared Redis) and hub cluster nodes (`hamsync broker --cluster … --node-id …`,
 * admin API on), each restartable on its port and data dir. Not test/helpers/redis.ts: that one
 * registers node:test hooks, which would print a test report from this script.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { freePort } from '../helpers/ports.js';
import { api } from '../helpers/procs.js';
import { sleep } from '../helpers/wait.js';
import { CLI, Kid, tempDir } from './fleet-procs.js';

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write('PING\r\n'));
    s.once('data', (b) => {
      s.destroy();
      resolve(b.toString().startsWith('+PONG'));
    });
    s.once('error', () => resolve(false));
  });
}

/** redis-server as a production node would run it: append-only file, fsync every second. */
export class RedisKid {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  static async start(): Promise<RedisKid> {
    const port = await freePort();
    const dir = tempDir('redis');
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'everysec', '--protected-mode', 'no'], { stdio: 'ignore' });
    const r = new RedisKid(child, port, dir);
    const deadline = Date.now() + 10_000;
    while (!(await pong(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await r.stop();
        throw new Error(`redis-server did not answer on port ${port} (is it installed? apt-get install redis-server)`);
      }
      await sleep(50);
    }
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const gone = new Promise((r) => this.child.once('close', r));
      this.child.kill('SIGKILL');
      await gone;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One hub: a cluster node (with `redis`) or a plain broker (without). */
export class NodeKid {
  kid: Kid;
  port: number;
  http: string;
  private constructor(
    readonly nodeId: string,
    readonly dataDir: string,
    private readonly redis: string | undefined,
    private readonly extra: string[],
    kid: Kid,
    port: number,
    http: string,
  ) {
    this.kid = kid;
    this.port = port;
    this.http = http;
  }

  private static async spawn(nodeId: string, dataDir: string, redis: string | undefined, port: number, extra: string[]): Promise<{ kid: Kid; port: number; http: string }> {
    const args = [CLI, 'broker', '--port', String(port), '--host', '127.0.0.1', '--data-dir', dataDir, '--http', '127.0.0.1:0', '--log-level', 'warn', '--rate-limit', '0', ...extra];
    if (redis !== undefined) args.push('--cluster', redis, '--node-id', nodeId, ...(port === 0 ? [] : ['--advertise', `mqtt://127.0.0.1:${port}`]));
    const kid = new Kid(nodeId, args);
    const l = await kid.line<{ port: number; http: number }>('listening', 60_000);
    return { kid, port: l.port, http: `127.0.0.1:${l.http}` };
  }

  /** Starts a node on a fresh temp dir (removed by `stop`); `extra`: more broker flags. */
  static async start(nodeId: string, redis?: string, extra: string[] = []): Promise<NodeKid> {
    const dataDir = tempDir(`node-${nodeId}`);
    const s = await NodeKid.spawn(nodeId, dataDir, redis, 0, extra);
    return new NodeKid(nodeId, dataDir, redis, extra, s.kid, s.port, s.http);
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  /** SIGTERM, keeping the data dir (for `restart`). */
  async halt(): Promise<void> {
    await this.kid.stop();
  }

  /** Starts it again on its port and data dir. */
  async restart(): Promise<void> {
    const s = await NodeKid.spawn(this.nodeId, this.dataDir, this.redis, this.port, this.extra);
    this.kid = s.kid;
    this.http = s.http;
  }

  /** SIGTERM and removes the data dir. */
  async stop(): Promise<void> {
    await this.kid.stop();
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** The live value of `key` on this node (admin API), or undefined. */
  async get(key: string): Promise<{ v: unknown; s: number } | undefined> {
    const res = await api(this.http, 'GET', `/v1/keys/${encodeURIComponent(key)}`);
    return res.status === 200 ? (res.body as { v: unknown; s: number }) : undefined;
  }
}

/** A redis-server and `n` nodes on it (n1…), or with `n` = 0 one plain broker (no --cluster, no Redis). */
export class Cluster {
  private constructor(
    readonly redis: RedisKid | undefined,
    readonly nodes: NodeKid[],
  ) {}

  /** `extra`: more flags for every node's broker. */
  static async start(n: number, extra: string[] = []): Promise<Cluster> {
    if (n === 0) return new Cluster(undefined, [await NodeKid.start('plain', undefined, extra)]);
    const redis = await RedisKid.start();
    const nodes: NodeKid[] = [];
    try {
      for (let i = 1; i <= n; i++) nodes.push(await NodeKid.start(`n${i}`, redis.url, extra));
    } catch (err) {
      for (const node of nodes) await node.stop();
      await redis.stop();
      throw err;
    }
    return new Cluster(redis, nodes);
  }

  async stop(): Promise<void> {
    for (const node of [...this.nodes].reverse()) await node.stop();
    await this.redis?.stop();
  }
}
