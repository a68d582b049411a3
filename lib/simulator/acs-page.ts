/**
 * The issuer bank's 3-D Secure page (the ACS). Every value in it comes from
 * the request, so every value is escaped.
 */

import { escapeHtml } from '../wire/html.js'

export interface AcsPageInput {
  paReq: string
  md: string
  termUrl: string
  amount: string
  approvePaRes: string
  failPaRes: string
}

const style = 'body{font-family:sans-serif;max-width:28rem;margin:3rem auto}code{word-break:break-all}' +
  'form{display:inline-block;margin-right:1rem}button{font-size:1.1rem;padding:.5rem 1.5rem}'

function bankPage (title: string, body: string): string {
  return '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>${title}</title>` +
    `<style>${style}</style></head><body><main>${body}</main></body></html>\n`
}

function answerForm (termUrl: string, md: string, paRes: string, id: string, label: string): string {
  return `<form method="POST" action="${escapeHtml(termUrl)}">` +
    `<input type="hidden" name="MD" value="${escapeHtml(md)}">` +
    `<input type="hidden" name="PaRes" value="${escapeHtml(paRes)}">` +
    `<button type="submit" id="${id}">${label}</button></form>`
}

export function renderAcsPage (input: AcsPageInput): string {
  return bankPage('Test bank - 3-D Secure',
    '<h1>Test bank: 3-D Secure</h1>' +
    `<p>Confirm the payment of <strong>${escapeHtml(input.amount)}</strong>.</p>` +
    `<p>Request: <code id="pareq">${escapeHtml(input.paReq)}</code></p>` +
    answerForm(input.termUrl, input.md, input.approvePaRes, 'approve', 'Approve') +
    answerForm(input.termUrl, input.md, input.failPaRes, 'fail', 'Fail'))
}

export function renderAcsError (message: string): string {
  return bankPage('Test bank - error', `<h1>Test bank: error</h1><p id="error">${escapeHtml(message)}</p>`)
}
