import { execFile } from 'node:child_process'
import { rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { Cluster, Redis, type ClusterOptions } from 'ioredis'
import { startRedisServer, type RedisServer } from './redis-server.js'
import { freePort } from './shop.js'

const run = promisify(execFile)

const HOST = '127.0.0.1'
const MASTERS = 3
// A node's cluster bus listens on its port + 10000, on the same address.
const BUS_OFFSET = 10_000
const HEALTHY_WITHIN_MS = 20_000

/** A Redis Cluster of a test file's own: three masters, no replicas, on free ports of 127.0.0.1. */
export interface RedisCluster {
  /** The masters' client ports. */
  readonly ports: number[]
  /** The masters' process ids. */
  readonly pids: number[]
  /** A plain connection to each master (same order as `ports`), to look at what that node holds; `stop()` closes them. */
  readonly nodes: Redis[]
  /** A new ioredis `Cluster` on it, failing fast like the standalone test clients; the caller quits it. */
  client (options?: ClusterOptions): Cluster
  /** Deletes every key starting with `prefix`, one DEL per key on its node: a DEL of keys in several slots is refused. */
  deleteKeys (prefix: string): Promise<void>
  /** Stops the three servers by their PIDs and removes their directory. */
  stop (): Promise<void>
}

/**
 * Starts three `redis-server --cluster-enabled yes` on free ports (each with
 * its bus port free too), joins them with `redis-cli --cluster create`, and
 * waits until every node says `cluster_state:ok`. Rejects, having stopped
 * whatever it started, when any step fails.
 */
export async function startRedisCluster (): Promise<RedisCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'qorepay-cluster-'))
  const servers: RedisServer[] = []
  // The servers kill themselves on an early exit (see redis-server.ts); their shared directory goes here.
  const removeDir = (): void => { rmSync(dir, { recursive: true, force: true }) }
  process.once('exit', removeDir)
  const stop = async (): Promise<void> => {
    process.removeListener('exit', removeDir)
    await Promise.all(servers.map((server) => server.stop()))
    await rm(dir, { recursive: true, force: true })
  }
  try {
    // One after the other: a port the first one holds is never handed to the next.
    for (let i = 0; i < MASTERS; i++) {
      servers.push(await startRedisServer({
        dir,
        port: clusterPort,
        args: (port) => ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)]
      }))
    }
    const addresses = servers.map((server) => `${HOST}:${server.port}`)
    try {
      await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], { timeout: HEALTHY_WITHIN_MS })
    } catch (err) {
      const { stdout = '', stderr = '' } = err as { stdout?: string, stderr?: string }
      const said = `${stdout}\n${stderr}`.trim().split('\n').slice(-3).join('\n')
      throw new Error(`redis-cli --cluster create ${addresses.join(' ')} failed: ${said === '' ? (err as Error).message : said}`)
    }
    await Promise.all(servers.map((server) => healthy(server.port)))
  } catch (err) {
    await stop()
    throw err
  }
  const ports = servers.map((server) => server.port)
  const client = (options: ClusterOptions = {}): Cluster => new Cluster(ports.map((port) => ({ host: HOST, port })), {
    ...options,
    redisOptions: { connectTimeout: 2000, maxRetriesPerRequest: 1, ...options.redisOptions }
  })
  // With no replicas each node is a master and holds the keys of its slots.
  const admins = ports.map((port) => new Redis({ host: HOST, port, connectTimeout: 2000, maxRetriesPerRequest: 1 }))
  return {
    ports,
    pids: servers.map((server) => server.pid),
    nodes: admins,
    client,
    async deleteKeys (prefix) {
      // KEYS through a cluster client would ask one node only.
      const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`
      const found = await Promise.all(admins.map((admin) => admin.keys(pattern)))
      await Promise.all(found.flatMap((keys, i) => keys.map((key) => admins[i].del(key))))
    },
    async stop () {
      for (const admin of admins) admin.disconnect()
      await stop()
    }
  }
}

/** A free port whose bus port (+ 10000) is a valid port and free as well. */
async function clusterPort (): Promise<number> {
  for (;;) {
    const port = await freePort()
    if (port + BUS_OFFSET <= 65_535 && await isFree(port + BUS_OFFSET)) return port
  }
}

async function isFree (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, HOST, () => server.close(() => resolve(true)))
  })
}

/** Waits until the node at `port` reports `cluster_state:ok` (every slot served, as that node sees it). */
async function healthy (port: number): Promise<void> {
  const node = new Redis({ host: HOST, port, connectTimeout: 1000, maxRetriesPerRequest: 0 })
  node.on('error', () => {})
  try {
    const deadline = Date.now() + HEALTHY_WITHIN_MS
    let info = ''
    while (Date.now() < deadline) {
      info = await node.cluster('INFO').catch((err: Error) => err.message)
      if (/^cluster_state:ok\s*$/m.test(info)) return
      await sleep(50)
    }
    throw new Error(`the cluster node on ${HOST}:${port} did not report cluster_state:ok within ${HEALTHY_WITHIN_MS} ms: ${info.slice(0, 300)}`)
  } finally {
    node.disconnect()
  }
}

/**
 * A cluster for a test file's suites, or why there is none: `skip` is `false`
 * with a started cluster (the caller stops it in its teardown), else a message
 * for the suites' `skip` option (no redis-server or redis-cli, or the cluster
 * did not come up). With `QOREPAY_REQUIRE_CLUSTER=1` (CI sets it) a cluster
 * that cannot start rejects instead, so the run fails rather than skips.
 *
 *     const { cluster, skip } = await redisClusterOrSkip()
 *     if (cluster !== undefined) t.teardown(() => cluster.stop())
 */
export async function redisClusterOrSkip (): Promise<{ cluster: RedisCluster, skip: false } | { cluster: undefined, skip: string }> {
  let reason: string
  try {
    await Promise.all(['redis-server', 'redis-cli'].map(async (tool) => await run(tool, ['--version']).catch((err: Error) => {
      throw new Error(`${tool} not found (${err.message.split('\n')[0]})`)
    })))
    return { cluster: await startRedisCluster(), skip: false }
  } catch (err) {
    // One line: tap shows a skip's reason up to its first line break.
    reason = `Redis Cluster could not be started: ${(err as Error).message.trim().replace(/\s*\n\s*/g, ' / ')}`
  }
  if (process.env.QOREPAY_REQUIRE_CLUSTER === '1') {
    throw new Error(`${reason} (QOREPAY_REQUIRE_CLUSTER=1: the Redis Cluster suite must run; install redis-server and redis-cli or unset the variable)`)
  }
  return { cluster: undefined, skip: reason }
}
