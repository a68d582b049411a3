import type { FastifyInstance } from 'fastify'

/** One server under test, built inside its own child process. */
export interface BenchServer {
  app: FastifyInstance
  /** Forgets per-round state (pending sessions, dedup marks) so a fixed pool of requests can be replayed. */
  reset (): void
  close (): Promise<void>
}
