import { Session } from 'node:inspector/promises'
import { writeFile, mkdir } from 'node:fs/promises'
import { dirname } from 'node:path'

/**
 * A CPU profile of just the measured rounds (not start-up, set-up or the
 * warm-up), which `--cpu-prof` cannot limit itself to. Opened in Chrome
 * DevTools or summarised with bench/profile-summary.ts.
 */
let session: Session | undefined

export async function startProfile (): Promise<void> {
  session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  // 200 us: fine enough for functions that take tens of microseconds per request.
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
}

export async function stopProfile (file: string): Promise<void> {
  if (session === undefined) return
  const { profile } = await session.post('Profiler.stop')
  session.disconnect()
  session = undefined
  await mkdir(dirname(file), { recursive: true })
  await writeFile(file, JSON.stringify(profile))
}
