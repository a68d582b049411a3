import { parseArgs } from 'node:util'
import type { Simulator } from './contract.js'
import { createSimulator } from './index.js'
import { loadOrCreateKeys } from './key-files.js'
import { CARD_TABLE, TEST_CARDS } from './test-cards.js'
import { isWebUrl } from '../wire/web-url.js'

/**
 * What `qorepay-simulator` does with its flags and environment, apart from
 * the process it runs in (bin/cli.ts wires argv, env, console and signals),
 * so that every flag can be tried without starting a process. Flags win
 * over environment variables, which win over demo defaults.
 */

export const USAGE = `Usage: qorepay-simulator [options]

  --port <n>       port to listen on (SIM_PORT, default 4010; 0: any free port)
  --host <addr>    address to listen on (SIM_HOST, default 127.0.0.1)
  --keys <dir>     keep the webhook and company signing keys in <dir> (SIM_KEYS):
                   made on the first run, the same keys on every later run
  --webhook <url>  a webhook target to add (SIM_WEBHOOK_URL)
  -h, --help       this text

Credentials: QOREPAY_API_KEY, QOREPAY_S2S_TOKEN, QOREPAY_BRAND_ID (demo values by default).`

export interface Output {
  log (text: string): void
  error (text: string): void
}

export interface Running {
  sim: Simulator
  /** Closes the simulator, saying so on the output. */
  stop (signal: string): Promise<void>
}

/** The exit code when it does not serve (help: 0, a wrong flag: 2, a failed start: 1), else the running simulator. */
export async function runCommandLine (argv: string[], env: Record<string, string | undefined>, out: Output): Promise<number | Running> {
  let args
  try {
    args = parseArgs({
      args: argv,
      options: {
        port: { type: 'string' },
        host: { type: 'string' },
        keys: { type: 'string' },
        webhook: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }).values
  } catch (err) {
    out.error(`qorepay-simulator: ${(err as Error).message}\n\n${USAGE}`)
    return 2
  }
  if (args.help) {
    out.log(USAGE)
    return 0
  }
  const config = {
    port: Number(args.port ?? env.SIM_PORT ?? 4010),
    host: args.host ?? env.SIM_HOST ?? '127.0.0.1',
    apiKey: env.QOREPAY_API_KEY ?? 'demo-api-key',
    s2sToken: env.QOREPAY_S2S_TOKEN ?? 'demo-s2s-token',
    brandId: env.QOREPAY_BRAND_ID ?? '409eb80e-3782-4b1d-afa8-b779759266a5'
  }
  const keysDir = args.keys ?? env.SIM_KEYS
  const webhookUrl = args.webhook ?? env.SIM_WEBHOOK_URL
  if (webhookUrl && !isWebUrl(webhookUrl)) {
    out.error(`qorepay-simulator: the webhook must be an absolute http(s) URL\n\n${USAGE}`)
    return 2
  }
  out.log([
    `Starting the QorePay simulator on ${config.host}:${config.port}`,
    `api key:   ${config.apiKey}`,
    `s2s token: ${config.s2sToken}`,
    `brand id:  ${config.brandId}`
  ].join('\n'))
  let sim: Simulator
  let keysMade = false
  try {
    const keys = keysDir === undefined ? undefined : loadOrCreateKeys(keysDir)
    keysMade = (keys?.created.length ?? 0) > 0
    sim = await createSimulator({ ...config, webhookKey: keys?.webhookKey, companyKey: keys?.companyKey })
  } catch (err) {
    out.error(`simulator failed to start: ${(err as Error).message}`)
    return 1
  }
  const lines = [`QorePay simulator listening: ${sim.baseUrl}`]
  if (keysDir !== undefined) lines.push(`keys:      ${keysDir} (${keysMade ? 'made now' : 'the same as before'})`)
  if (webhookUrl) {
    sim.addWebhook({ url: webhookUrl })
    lines.push(`webhook:   ${webhookUrl}`)
  }
  lines.push(
    '', 'Company public key (GET /public_key/, signs success_callback):', sim.companyPublicKey.trim(),
    '', 'Webhook public key (X-Signature):', sim.webhookPublicKey.trim(),
    '', `Test cards (CVC ${TEST_CARDS.cvc} passes, any future MM/YY):`,
    ...CARD_TABLE.map((card) => `  ${card.number}  ${card.effect}${card.own ? ' (the simulator\'s own)' : ''}`),
    '  any other number fails (invalid_card_number), as on the platform\'s sandbox',
    '', 'Ctrl-C stops it.'
  )
  out.log(lines.join('\n'))
  return {
    sim,
    async stop (signal) {
      out.log(`${signal}: closing`)
      await sim.close()
      out.log('closed')
    }
  }
}
