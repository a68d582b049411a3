/**
 * `npm run simulator`: the gateway simulator as a standalone server, for
 * trying an integration by hand. Configured by environment variables with
 * demo defaults; stops on SIGINT / SIGTERM.
 */
import { createSimulator, TEST_CARDS } from './index.js'

const env = process.env
const config = {
  port: Number(env.SIM_PORT ?? 4010),
  host: env.SIM_HOST ?? '127.0.0.1',
  apiKey: env.QOREPAY_API_KEY ?? 'demo-api-key',
  s2sToken: env.QOREPAY_S2S_TOKEN ?? 'demo-s2s-token',
  brandId: env.QOREPAY_BRAND_ID ?? '409eb80e-3782-4b1d-afa8-b779759266a5'
}

async function main (): Promise<void> {
  console.log([
    `Starting the QorePay simulator on ${config.host}:${config.port}`,
    `api key:   ${config.apiKey}`,
    `s2s token: ${config.s2sToken}`,
    `brand id:  ${config.brandId}`
  ].join('\n'))
  const sim = await createSimulator(config)
  const lines = [`QorePay simulator listening: ${sim.baseUrl}`]
  if (env.SIM_WEBHOOK_URL) {
    sim.addWebhook({ url: env.SIM_WEBHOOK_URL })
    lines.push(`webhook:   ${env.SIM_WEBHOOK_URL}`)
  }
  lines.push(
    '', 'Company public key (GET /public_key/, signs success_callback):', sim.companyPublicKey.trim(),
    '', 'Webhook public key (X-Signature):', sim.webhookPublicKey.trim(),
    '', `Test cards (CVC ${TEST_CARDS.cvc} passes, any future MM/YY):`,
    `  ${TEST_CARDS.noThreeDS}  executes without 3-D Secure (authorized with skip_capture)`,
    `  ${TEST_CARDS.threeDSPost}  3-D Secure, Method POST`,
    `  ${TEST_CARDS.threeDSGet}  3-D Secure, Method GET, empty MD`,
    `  ${TEST_CARDS.declined}  declined: do_not_honour`,
    `  ${TEST_CARDS.insufficientFunds}  fails: insufficient_funds`,
    '', 'Ctrl-C stops it.'
  )
  console.log(lines.join('\n'))

  const stop = (signal: string) => {
    console.log(`${signal}: closing`)
    sim.close().then(() => console.log('closed'))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((err: Error) => {
  console.error(`simulator failed to start: ${err.message}`)
  process.exitCode = 1
})
