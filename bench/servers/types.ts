import type { FastifyInstance } from 'fastify'

/** One server under test, built inside its own child process. */
export interface BenchServer {
  app: FastifyInstance
  /** Forgets per-round state (pending sessions, dedup marks) so a fixed pool of requests can be replayed. */
  reset (): void
  /** Store (or Redis) operations so far; `undefined` for a server that keeps its state in plain Maps (hand-written). */
  storeOps (): number | undefined
  close (): Promise<void>
}
