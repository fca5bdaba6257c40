import { fireEvent, render, screen, within } from '@testing-library/react'
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { beforeEach, describe, expect, it } from 'vitest'
import { createApiClient } from '@/api/client'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { routes } from '@/app/router'
import { rememberSecret } from '@/lib/secrets'
import { sessionStore } from '@/lib/session'
import { json, serveForTests } from '@/test/server'

// A gateway whose chat calls are refused as `refusal` says (429 with OpenAI's
// error body and the rate-limit headers), or fail with a plain 502.
const SECRET = 'tg-secret'

interface Refusal {
  status: number
  body: unknown
  headers: Record<string, string>
}

let refusal: Refusal

const rpmRefusal: Refusal = {
  status: 429,
  body: {
    error: {
      message: 'Rate limit of 5 requests per minute reached for this gateway',
      type: 'requests',
      code: 'rate_limit_exceeded',
      param: 'rpm',
    },
  },
  headers: {
    'retry-after': '20',
    'x-ratelimit-limit-requests': '5',
    'x-ratelimit-remaining-requests': '0',
    'x-ratelimit-reset-requests': '20s',
    'x-ratelimit-limit-tokens': '100000',
    'x-ratelimit-remaining-tokens': '99000',
    'x-ratelimit-reset-tokens': '20s',
  },
}

const limits = { rpm: 5, tpm: 100000, max_concurrent: null, daily_budget_usd: 5, monthly_budget_usd: null }

const gateway = {
  id: 'gw_1',
  name: 'prod',
  secret_hint: 'tg-…cret',
  limits,
  limit_ceilings: { rpm: null, tpm: null, max_concurrent: null, daily_budget_usd: null, monthly_budget_usd: null },
  usage: { requests_this_minute: 5, tokens_this_minute: 1000, concurrent: 0, spend_today_usd: 5, spend_this_month_usd: 5 },
  created_at: '2025-03-01T00:00:00Z',
  updated_at: '2025-03-01T00:00:00Z',
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  for await (const _ of req) void _
  const url = new URL(req.url ?? '/', 'http://x')
  if (url.pathname === '/gateways/gw_1') return json(res, 200, gateway)
  if (url.pathname === '/gateways') return json(res, 200, { gateways: [gateway] })
  if (req.headers.authorization !== `Bearer ${SECRET}`) return json(res, 401, { error: { message: 'no', type: 'invalid_request_error' } })
  if (url.pathname === '/v1/models') {
    return json(res, 200, { object: 'list', data: [{ id: 'mock/echo', object: 'model', created: 0, owned_by: 'mock', available: true }] })
  }
  if (url.pathname === '/v1/chat/completions') {
    return json(res, refusal.status, refusal.body, { 'x-request-id': 'req_refused', ...refusal.headers })
  }
  json(res, 404, { error: { code: 'not_found', message: 'nope' } })
}

const testServer = serveForTests((req, res) => void handle(req, res))

beforeEach(() => {
  refusal = rpmRefusal
})

/** Opens the playground, sends one message and returns the router. */
async function sendOne() {
  sessionStore.set({ id: 'u1', username: 'Brave_Fox', token: 'jwt', expires_at: '2999-01-01T00:00:00Z' })
  rememberSecret('gw_1', SECRET)
  const client = createApiClient({ baseUrl: testServer.url, getToken: sessionStore.token })
  const router = createMemoryRouter(routes, { initialEntries: ['/g/gw_1/playground'] })
  render(
    <Providers client={client} queryClient={createQueryClient()}>
      <RouterProvider router={router} />
    </Providers>,
  )
  const select = (await screen.findByLabelText('Model', { selector: 'select' })) as HTMLSelectElement
  await within(select).findByRole('option', { name: 'mock/echo' })
  fireEvent.change(screen.getByLabelText('Message 1 (user)'), { target: { value: 'Hello' } })
  fireEvent.click(screen.getByRole('button', { name: 'Send' }))
  return router
}

describe('the playground, when a limit refuses the call (429)', () => {
  it('says which limit was hit, quotes the server, says when to retry and links to the limits', async () => {
    const router = await sendOne()
    const explanation = await screen.findByTestId('limit-explanation')
    expect(within(explanation).getByRole('alert').textContent).toContain('Rate limit reached')
    expect(within(explanation).getByTestId('limit-summary').textContent).toBe(
      'This gateway’s limit of 5 requests per minute was reached.',
    )
    expect(explanation.textContent).toContain(
      'The gateway said: “Rate limit of 5 requests per minute reached for this gateway”',
    )
    expect(explanation.textContent).toContain('0 of 5 requests left in the current minute.')
    expect(within(explanation).getByTestId('limit-retry').textContent).toMatch(/^Try again in (19|20) seconds\.$/)
    expect(explanation.textContent).toContain('request req_refused')
    expect(screen.queryByText('The call failed')).toBeNull()

    const link = within(explanation).getByRole('link', { name: 'See this gateway’s limits' })
    expect(link.getAttribute('href')).toBe('/g/gw_1/limits')
    fireEvent.click(link)
    await screen.findByRole('form', { name: 'Set limits' })
    expect(router.state.location.pathname).toBe('/g/gw_1/limits')
  })

  it('says a spent budget with its amount, from the gateway’s saved limits', async () => {
    refusal = {
      status: 429,
      body: {
        error: {
          message: 'The daily budget of this gateway is spent',
          type: 'insufficient_quota',
          code: 'insufficient_quota',
          param: 'daily_budget_usd',
        },
      },
      headers: { 'retry-after': '1800' },
    }
    await sendOne()
    const explanation = await screen.findByTestId('limit-explanation')
    expect(within(explanation).getByRole('alert').textContent).toContain('Budget spent')
    expect(within(explanation).getByTestId('limit-summary').textContent).toBe('The daily budget of $5.00 is spent.')
    expect(explanation.textContent).toContain('The daily budget of this gateway is spent')
    expect(within(explanation).getByTestId('limit-retry').textContent).toMatch(/^Try again in 30 minutes \(at \d\d:\d\d\)\.$/)
  })

  it('keeps the plain error for a call that failed otherwise', async () => {
    refusal = {
      status: 502,
      body: { error: { message: 'The provider did not answer', type: 'upstream_error', code: 'upstream_unreachable', param: null } },
      headers: {},
    }
    await sendOne()
    const alert = (await screen.findByText('The provider did not answer')).closest('[role="alert"]')
    expect(alert?.textContent).toContain('The call failed')
    expect(screen.queryByTestId('limit-explanation')).toBeNull()
  })
})
