/**
 * Cluster kill -9 child: `node node-child.js <dataDir> <redisUrl> <nodeId>`. Starts a broker that
 * is a cluster node and prints `{"port":N}` once it listens; the parent puts through it and kills
 * it with SIGKILL. A safety net exits it after 60 s.
 */
import { startBroker } from '../../broker/server.js';

const [dataDir, url, nodeId] = process.argv.slice(2) as [string, string, string];
setTimeout(() => process.exit(3), 60_000).unref();
const b = await startBroker({ port: 0, host: '127.0.0.1', dataDir, cluster: { url, nodeId, link: { pingMs: 250, timeoutMs: 1000, blockMs: 300 } } as never });
process.stdout.write(`${JSON.stringify({ port: b.port })}\n`);
setInterval(() => undefined, 1000);
