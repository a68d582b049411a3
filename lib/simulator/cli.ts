#!/usr/bin/env node
/**
 * `qorepay-simulator`, the package's bin (`npm run simulator` here): the
 * gateway simulator as a standalone server, for trying an integration by
 * hand or for a shop's CI. The process around command-line.ts: argv, the
 * environment, the console, the exit code, and SIGINT / SIGTERM to stop.
 */
import { runCommandLine } from './command-line.js'

const result = await runCommandLine(process.argv.slice(2), process.env, console)
if (typeof result === 'number') process.exitCode = result
else {
  for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => { result.stop(signal) })
}
