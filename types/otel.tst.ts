import { expect, test } from 'tstyche'
import type { MeterProvider, TracerProvider } from '@opentelemetry/api'
import { instrumentQorePay, type QorePayInstrumentation } from 'fastify-qorepay/otel'

declare const tracerProvider: TracerProvider
declare const meterProvider: MeterProvider

test('instrumentQorePay takes optional providers and returns something to disable', () => {
  expect(instrumentQorePay()).type.toBe<QorePayInstrumentation>()
  expect(instrumentQorePay({ tracerProvider, meterProvider })).type.toBe<QorePayInstrumentation>()
  expect(instrumentQorePay().disable()).type.toBe<void>()
  expect(instrumentQorePay({ tracerProvider: 'global' })).type.toRaiseError()
})
