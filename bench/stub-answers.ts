/**
 * What the stub gateway answers a 3DS card with, and what the bench posts
 * back to the TermUrl for it: fixed, since the stub checks neither. Sizes
 * and characters as the simulator issues them (the page escapes PaReq).
 */
export const STUB_THREE_DS = {
  Method: 'POST',
  PaReq: '<PaReq id="00000000-0000-4000-8000-000000000000" nonce=\'391d087c0136\'>3DS&v=1.0.2</PaReq>',
  MD: 'G2sAp1I8eR7K+IB6cNdu+4WcIC2HAvKzEQ=='
}

export const STUB_PARES = 'approved-by-the-bench'
