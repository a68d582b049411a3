import { randomFillSync } from 'node:crypto'

// One CSPRNG call per 4 KiB instead of one per token: the pages and sessions
// ask for a few dozen bytes on every request. Bytes are handed out once.
const POOL_SIZE = 4096
const pool = Buffer.allocUnsafe(POOL_SIZE)
let offset = POOL_SIZE

/** `bytes` fresh random bytes as base64url (valid in URLs and as a CSP nonce). */
export function randomToken (bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool)
    offset = 0
  }
  const token = pool.toString('base64url', offset, offset + bytes)
  offset += bytes
  return token
}
