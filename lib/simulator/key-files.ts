import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { newSigningKey, privatePem } from './deliveries.js'

/**
 * `--keys <dir>`: the simulator's two signing keys kept on disk, so a shop's
 * CI configures the plugin once and every later run signs with the same
 * keys. Made on first use (private keys readable by their owner only), read
 * back afterwards; the public halves are written beside them for the shop.
 */

export interface KeyFiles {
  /** PEM of the key that signs webhooks. */
  webhookKey: string
  /** PEM of the key that signs success callbacks (GET /public_key/). */
  companyKey: string
  /** The private key files made by this call; empty when both were there. */
  created: string[]
}

export function loadOrCreateKeys (dir: string): KeyFiles {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const created: string[] = []
  const load = (name: string): string => {
    const file = join(dir, `${name}-key.pem`)
    try {
      return readFileSync(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const key = newSigningKey()
    const pem = privatePem(key)
    // 'wx': never overwrite a key another run made meanwhile.
    writeFileSync(file, pem, { mode: 0o600, flag: 'wx' })
    writeFileSync(join(dir, `${name}-public.pem`), key.publicPem)
    created.push(file)
    return pem
  }
  return { webhookKey: load('webhook'), companyKey: load('company'), created }
}
