import { fireEvent, render, screen, within } from '@testing-library/react'
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { describe, expect, it } from 'vitest'
import { createApiClient } from '@/api/client'
import type { ModelInfo } from '@/api/types'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { routes } from '@/app/router'
import { UNPRICED_EXPLANATION } from '@/components/ui/Cost'
import { rememberSecret } from '@/lib/secrets'
import { sessionStore } from '@/lib/session'
import { serveForTests } from '@/test/server'

const SECRET = 'tg-secret'

const models: ModelInfo[] = [
  {
    id: 'mock/echo',
    object: 'model',
    created: 0,
    owned_by: 'mock',
    pricing: { input_per_mtok: 1, cached_input_per_mtok: 0.5, output_per_mtok: 2 },
    available: true,
  },
  { id: 'ollama/llama3.2', object: 'model', created: 0, owned_by: 'ollama', pricing: null, available: true },
]

function json(res: ServerResponse, status: number, body: unknown) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'x-request-id': 'req_1' })
  res.end(JSON.stringify(body))
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://x')
  if (url.pathname === '/gateways/gw_1') {
    return json(res, 200, { id: 'gw_1', name: 'prod', secret_hint: 'tg-…cret', created_at: '2025-03-01T00:00:00Z', updated_at: '2025-03-01T00:00:00Z' })
  }
  if (url.pathname === '/gateways') return json(res, 200, { gateways: [] })
  if (req.headers.authorization !== `Bearer ${SECRET}`) return json(res, 401, { error: { message: 'no', type: 'invalid_request_error' } })
  if (url.pathname === '/v1/models') return json(res, 200, { object: 'list', data: models })
  if (url.pathname === '/v1/chat/completions') {
    const parts: Buffer[] = []
    for await (const part of req) parts.push(part as Buffer)
    const request = JSON.parse(Buffer.concat(parts).toString('utf8'))
    return json(res, 200, {
      id: 'c1',
      object: 'chat.completion',
      created: 0,
      model: request.model,
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi back' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 },
    })
  }
  json(res, 404, { error: { code: 'not_found', message: 'nope' } })
}

const testServer = serveForTests((req, res) => void handle(req, res))

/** Opens the playground, picks `model`, sends one non-streamed message and returns the Cost metric. */
async function callCost(model: string): Promise<HTMLElement> {
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
  await within(select).findByRole('option', { name: model })
  fireEvent.change(select, { target: { value: model } })
  fireEvent.click(screen.getByRole('switch', { name: 'Stream the answer' }))
  fireEvent.change(screen.getByLabelText('Message 1 (user)'), { target: { value: 'Hello' } })
  fireEvent.click(screen.getByRole('button', { name: 'Send' }))
  return screen.findByTestId('metric-cost')
}

describe('the playground’s per-call cost', () => {
  it('reads "—" with its explanation for a model without a price, never $0.00', async () => {
    const cost = await callCost('ollama/llama3.2')
    expect(within(cost).getByTitle(UNPRICED_EXPLANATION).textContent).toContain('—')
    expect(cost.textContent).not.toContain('$')
    expect(screen.getByTestId('metric-tokens').textContent).toBe('1,000 → 500')
    // The model's hint says so before the call, too.
    expect(screen.getByText(/No price in the catalog/)).toBeTruthy()
  })

  it('shows the dollars of a priced model', async () => {
    const cost = await callCost('mock/echo')
    expect(cost.textContent).toBe('$0.002')
  })
})
