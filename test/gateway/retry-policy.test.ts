import { test } from 'tap'
import { MAX_RETRY_AFTER_MS, backoff, isTimeout, neverSent, retryAfterMs } from '../../lib/gateway/retry-policy.js'

test('neverSent: exactly the connection failures that prove nothing reached the gateway', async (t) => {
  for (const code of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']) {
    t.equal(neverSent(code), true, code)
  }
  // Once connected, the request may have been read: a reset, a closed socket, a late answer.
  for (const code of ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_ABORTED', 'UNKNOWN', '']) {
    t.equal(neverSent(code), false, code)
  }
})

test('isTimeout: exactly undici\'s three time limits', async (t) => {
  for (const code of ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']) {
    t.equal(isTimeout(code), true, code)
  }
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'UND_ERR_SOCKET', '']) {
    t.equal(isTimeout(code), false, code)
  }
})

test('backoff: between half and all of 50 ms doubled per attempt, capped at one second, spread over that range', async (t) => {
  for (const [attempt, ceiling] of [[0, 50], [1, 100], [2, 200], [3, 400], [4, 800], [5, 1000], [9, 1000]] as const) {
    const waits = Array.from({ length: 2000 }, () => backoff(attempt))
    const low = Math.min(...waits)
    const high = Math.max(...waits)
    t.ok(low >= ceiling / 2 && high <= ceiling, `attempt ${attempt}: ${low}..${high} within ${ceiling / 2}..${ceiling}`)
    // 2000 uniform draws: the extremes sit within 1% of the range's ends (a miss has odds below 1e-8).
    t.ok(low < ceiling / 2 + ceiling / 100 && high > ceiling - ceiling / 100, `attempt ${attempt}: spread over the whole range`)
  }
})

test('retryAfterMs: seconds or an HTTP date, never negative; anything else is no hint', async (t) => {
  t.equal(retryAfterMs('0'), 0)
  t.equal(retryAfterMs('2'), 2000)
  t.equal(retryAfterMs('1.5'), 1500)
  t.equal(retryAfterMs('-3'), 0, 'a negative delay is no delay')
  t.equal(retryAfterMs(undefined), undefined)
  t.equal(retryAfterMs(['1', '2']), undefined, 'sent twice')
  t.equal(retryAfterMs('soon'), undefined)
  t.equal(retryAfterMs(new Date(Date.now() - 60_000).toUTCString()), 0, 'a date already past')
  const ahead = retryAfterMs(new Date(Date.now() + 30_000).toUTCString()) as number
  // toUTCString drops the milliseconds: up to a second early.
  t.ok(ahead > 28_000 && ahead <= 30_000, `a date 30 s ahead: ${ahead} ms`)
  t.equal(MAX_RETRY_AFTER_MS, 2000)
})
