import { fireEvent, render, screen, within } from '@testing-library/react'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { describe, expect, it } from 'vitest'
import { createApiClient } from '@/api/client'
import type { LogEntry } from '@/api/types'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { routes } from '@/app/router'
import { sessionStore } from '@/lib/session'
import { serveForTests } from '@/test/server'

function entry(n: number, ok = true): LogEntry {
  return {
    id: `log-${n}`,
    request_id: `req-${n}`,
    timestamp: new Date(Date.UTC(2025, 2, 10, 12, 0, 60 - n)).toISOString(),
    model: 'mock/echo',
    upstream_model: 'echo',
    provider: 'mock',
    streaming: n % 2 === 0,
    status_code: ok ? 200 : 502,
    ok,
    error_type: ok ? null : 'api_error',
    error_code: ok ? null : 'upstream_error',
    error_message: ok ? null : 'bad gateway',
    tokens_prompt: 10 + n,
    tokens_completion: 5,
    tokens_cached: 0,
    priced: true,
    cost: 0.000012,
    cost_nanousd: 12000,
    latency_ms: 100 + n,
    ttft_ms: n % 2 === 0 ? 40 : null,
    attempts: 1,
  }
}

const logRequests: URLSearchParams[] = []
const testServer = serveForTests((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x')
  const send = (body: unknown) => {
    res.writeHead(200, { 'Content-Type': 'application/json' })
    res.end(JSON.stringify(body))
  }
  if (url.pathname === '/gateways/gw_1') {
    return send({ id: 'gw_1', name: 'prod', secret_hint: 'tg-…abcd', created_at: '2025-03-01T00:00:00Z', updated_at: '2025-03-01T00:00:00Z' })
  }
  if (url.pathname === '/gateways') return send({ gateways: [] })
  if (url.pathname === '/gateways/gw_1/analytics') {
    return send({
      gateway_id: 'gw_1',
      date_range: { start_date: '2025-01-01', end_date: '2025-03-10', days: 90 },
      summary: {},
      model_breakdown: { 'mock/echo': {} },
      daily_stats: [],
    })
  }
  if (url.pathname === '/gateways/gw_1/logs') {
    logRequests.push(url.searchParams)
    if (url.searchParams.get('before') === 'cursor-1') return send({ logs: [entry(3, false)], next_cursor: null })
    return send({ logs: [entry(1), entry(2)], next_cursor: 'cursor-1' })
  }
  res.writeHead(404, { 'Content-Type': 'application/json' })
  res.end(JSON.stringify({ error: { code: 'not_found', message: 'nope' } }))
})

describe('LogsPage', () => {
  it('pages with the cursor, keeping the filters, and opens a row', async () => {
    sessionStore.set({ id: 'u1', username: 'Brave_Fox', token: 'jwt', expires_at: '2999-01-01T00:00:00Z' })
    const client = createApiClient({ baseUrl: testServer.url, getToken: sessionStore.token })
    const router = createMemoryRouter(routes, { initialEntries: ['/g/gw_1/logs?status=ok&model=mock%2Fecho'] })
    render(
      <Providers client={client} queryClient={createQueryClient()}>
        <RouterProvider router={router} />
      </Providers>,
    )
    const table = await screen.findByTestId('logs-table')
    expect(within(table).getAllByRole('row')).toHaveLength(1 + 2)
    fireEvent.click(screen.getByRole('button', { name: 'Load more' }))
    await screen.findByText('That’s all of them.')
    expect(within(screen.getByTestId('logs-table')).getAllByRole('row')).toHaveLength(1 + 3)

    expect(logRequests).toHaveLength(2)
    expect(Object.fromEntries(logRequests[0])).toEqual({ status: 'ok', model: 'mock/echo', limit: '50' })
    expect(Object.fromEntries(logRequests[1])).toEqual({ status: 'ok', model: 'mock/echo', limit: '50', before: 'cursor-1' })

    fireEvent.click(screen.getByRole('button', { name: /Details of the failed mock\/echo call/ }))
    const details = await screen.findByTestId('log-details')
    expect(within(details).getByText('bad gateway', { selector: 'pre' })).toBeTruthy()
    expect(within(details).getByText('req-3')).toBeTruthy()
  })
})
