import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { beforeEach, describe, expect, it } from 'vitest'
import { createApiClient } from '@/api/client'
import type { Fallbacks } from '@/api/types'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { routes } from '@/app/router'
import { forgetSecret, rememberSecret } from '@/lib/secrets'
import { sessionStore } from '@/lib/session'
import { json, serveForTests } from '@/test/server'

// A control plane with one gateway, whose fallbacks PATCH replaces, and the
// data plane's model list for its secret.
const SECRET = 'tg-secret-of-gw_1'
let fallbacks: Fallbacks = {}
let refusal: string | null = null
let patches: unknown[] = []

const gateway = () => ({
  id: 'gw_1',
  name: 'prod',
  secret_hint: 'tg-…_gw1',
  fallbacks,
  created_at: '2025-03-01T00:00:00Z',
  updated_at: '2025-03-01T00:00:00Z',
})

async function handle(req: IncomingMessage, res: ServerResponse) {
  const parts: Buffer[] = []
  for await (const part of req) parts.push(part as Buffer)
  const key = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`
  if (key === 'GET /gateways') return json(res, 200, { gateways: [gateway()] })
  if (key === 'GET /gateways/gw_1') return json(res, 200, gateway())
  if (key === 'PATCH /gateways/gw_1') {
    const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { fallbacks: Fallbacks }
    patches.push(body)
    if (refusal) return json(res, 400, { error: { code: 'invalid_fallbacks', message: refusal } })
    fallbacks = body.fallbacks
    return json(res, 200, gateway())
  }
  if (key === 'GET /v1/models' && req.headers.authorization === `Bearer ${SECRET}`) {
    return json(res, 200, {
      object: 'list',
      data: [
        { id: 'openai/gpt-4o', object: 'model', created: 0, owned_by: 'openai', available: true },
        { id: 'anthropic/claude-sonnet-4-5', object: 'model', created: 0, owned_by: 'anthropic', available: false },
        { id: 'mock/echo', object: 'model', created: 0, owned_by: 'mock', available: true },
      ],
    })
  }
  json(res, 404, { error: { code: 'not_found', message: 'nope' } })
}

const testServer = serveForTests((req, res) => void handle(req, res))

beforeEach(() => {
  fallbacks = {}
  refusal = null
  patches = []
  forgetSecret('gw_1')
  sessionStore.set({ id: 'u1', username: 'Brave_Fox', token: 'jwt', expires_at: '2999-01-01T00:00:00Z' })
})

async function openSettings() {
  const client = createApiClient({ baseUrl: testServer.url, getToken: sessionStore.token })
  const router = createMemoryRouter(routes, { initialEntries: ['/g/gw_1/settings'] })
  render(
    <Providers client={client} queryClient={createQueryClient()}>
      <RouterProvider router={router} />
    </Providers>,
  )
  await screen.findByRole('heading', { name: 'Fallbacks' })
}

/** Each listed chain as its requested model followed by its fallbacks. */
function listedChains(): string[][] {
  return screen.queryAllByTestId('fallback-chain').map((chain) => {
    const requested = chain.querySelector('span')?.textContent ?? ''
    const list = within(chain).getByRole('list')
    return [requested, ...within(list).getAllByRole('listitem').map((item) => item.textContent?.replace('→', '') ?? '')]
  })
}

const type = (label: string, value: string) => fireEvent.change(screen.getByLabelText(label), { target: { value } })
const click = (name: string) => fireEvent.click(screen.getByRole('button', { name }))

function addFallback(model: string) {
  type('Fallback model', model)
  click('Add fallback')
}

describe('the fallbacks of a gateway, in its settings', () => {
  it('lists each chain: the requested model, then its fallbacks in order', async () => {
    fallbacks = {
      'gpt-4o': ['anthropic/claude-sonnet-4-5', 'groq/llama-3.3-70b-versatile'],
      'mock/echo': ['mock/slow-echo'],
    }
    await openSettings()
    await waitFor(() => expect(listedChains()).toHaveLength(2))
    expect(listedChains()).toEqual([
      ['gpt-4o', 'anthropic/claude-sonnet-4-5', 'groq/llama-3.3-70b-versatile'],
      ['mock/echo', 'mock/slow-echo'],
    ])
    expect(screen.getByRole('list', { name: 'Fallbacks of gpt-4o' })).toBeTruthy()
    expect(screen.getAllByTestId('fallback-chain')[0].textContent).toBe(
      'gpt-4o→anthropic/claude-sonnet-4-5→groq/llama-3.3-70b-versatile',
    )
  })

  it('says so when there are none', async () => {
    await openSettings()
    expect((await screen.findByTestId('no-fallbacks')).textContent).toContain('No fallbacks yet')
    expect(screen.queryAllByTestId('fallback-chain')).toHaveLength(0)
  })

  it('adds a chain built in order, reordered and pruned, and saves the whole map with PATCH', async () => {
    fallbacks = { 'gpt-4o': ['anthropic/claude-sonnet-4-5'] }
    await openSettings()
    click('New fallback chain')
    expect(screen.getByRole('form', { name: 'New fallback chain' })).toBeTruthy()
    type('Requested model', 'gpt-4o-mini')
    addFallback('mock/echo')
    addFallback('groq/llama-3.3-70b-versatile')
    addFallback('anthropic/claude-haiku-4-5')
    click('Move anthropic/claude-haiku-4-5 up')
    click('Remove groq/llama-3.3-70b-versatile')
    const order = within(screen.getByRole('list', { name: 'Fallbacks, in the order they are tried' }))
    expect(order.getAllByRole('listitem').map((item) => item.textContent)).toEqual(['1mock/echo', '2anthropic/claude-haiku-4-5'])

    click('Save chain')
    await screen.findByText('Fallbacks of gpt-4o-mini added')
    expect(patches).toEqual([
      { fallbacks: { 'gpt-4o': ['anthropic/claude-sonnet-4-5'], 'gpt-4o-mini': ['mock/echo', 'anthropic/claude-haiku-4-5'] } },
    ])
    expect(listedChains()).toEqual([
      ['gpt-4o', 'anthropic/claude-sonnet-4-5'],
      ['gpt-4o-mini', 'mock/echo', 'anthropic/claude-haiku-4-5'],
    ])
    expect(screen.queryByRole('button', { name: 'Save chain' })).toBeNull()
  })

  it('edits a chain in place', async () => {
    fallbacks = { 'gpt-4o': ['anthropic/claude-sonnet-4-5', 'mock/echo'] }
    await openSettings()
    click('Edit the chain of gpt-4o')
    expect((screen.getByLabelText('Requested model') as HTMLInputElement).value).toBe('gpt-4o')
    click('Move mock/echo up')
    click('Save chain')
    await screen.findByText('Fallbacks of gpt-4o saved')
    expect(patches).toEqual([{ fallbacks: { 'gpt-4o': ['mock/echo', 'anthropic/claude-sonnet-4-5'] } }])
  })

  it('removes a chain by saving the others, and clears the map with {} when none is left', async () => {
    fallbacks = { 'gpt-4o': ['mock/echo'], 'gpt-4o-mini': ['mock/echo'] }
    await openSettings()
    click('Remove the chain of gpt-4o')
    await screen.findByText('Fallbacks of gpt-4o removed')
    expect(listedChains()).toEqual([['gpt-4o-mini', 'mock/echo']])
    click('Remove the chain of gpt-4o-mini')
    await screen.findByTestId('no-fallbacks')
    expect(patches).toEqual([{ fallbacks: { 'gpt-4o-mini': ['mock/echo'] } }, { fallbacks: {} }])
  })

  it('shows the server’s message when it refuses the chain (400), keeping the chain to fix', async () => {
    refusal = '`gpt-5-turbo` is not a model this gateway serves'
    await openSettings()
    click('New fallback chain')
    type('Requested model', 'gpt-4o')
    addFallback('gpt-5-turbo')
    click('Save chain')
    const alert = await screen.findByText(refusal)
    expect(alert.closest('[role="alert"]')?.textContent).toContain('The chain was not saved')
    expect(patches).toEqual([{ fallbacks: { 'gpt-4o': ['gpt-5-turbo'] } }])
    expect(screen.getByRole('button', { name: 'Remove gpt-5-turbo' })).toBeTruthy()
    expect(listedChains()).toEqual([])
  })

  it('shows the server’s message when it refuses a removal', async () => {
    fallbacks = { 'gpt-4o': ['mock/echo'] }
    refusal = 'at most 50 fallback chains per gateway'
    await openSettings()
    click('Remove the chain of gpt-4o')
    expect((await screen.findByText(refusal)).closest('[role="alert"]')?.textContent).toContain('The chain was not removed')
    expect(listedChains()).toEqual([['gpt-4o', 'mock/echo']])
  })

  it('will not let a model fall back to itself, or twice, or more than five times', async () => {
    await openSettings()
    click('New fallback chain')
    type('Requested model', 'gpt-4o')
    type('Fallback model', 'gpt-4o')
    expect(screen.getByText('A model cannot fall back to itself.')).toBeTruthy()
    expect((screen.getByRole('button', { name: 'Add fallback' }) as HTMLButtonElement).disabled).toBe(true)
    for (const model of ['a/1', 'a/2', 'a/3', 'a/4', 'a/5']) addFallback(model)
    expect((screen.getByLabelText('Fallback model') as HTMLInputElement).disabled).toBe(true)
    expect(screen.getByText('A chain holds at most 5 fallbacks.')).toBeTruthy()
    click('Remove a/5')
    type('Fallback model', 'a/1')
    expect(screen.getByText('a/1 is in this chain already.')).toBeTruthy()
    expect((screen.getByRole('button', { name: 'Save chain' }) as HTMLButtonElement).disabled).toBe(false)
  })

  it('suggests the gateway’s models when this tab knows its secret', async () => {
    rememberSecret('gw_1', SECRET)
    await openSettings()
    click('New fallback chain')
    const input = screen.getByLabelText('Requested model')
    await waitFor(() => expect(input.getAttribute('list')).toBeTruthy())
    const listId = input.getAttribute('list') ?? ''
    const options = [...(document.getElementById(listId)?.querySelectorAll('option') ?? [])]
    // Models that can answer now come first.
    expect(options.map((o) => o.value)).toEqual(['openai/gpt-4o', 'mock/echo', 'anthropic/claude-sonnet-4-5'])
    expect(screen.getByLabelText('Fallback model').getAttribute('list')).toBe(listId)
  })

  it('without the secret, takes typed model ids and says where to get suggestions', async () => {
    await openSettings()
    click('New fallback chain')
    expect(screen.getByLabelText('Requested model').getAttribute('list')).toBeNull()
    const hint = screen.getByTestId('fallback-models-hint')
    expect(hint.textContent).toContain('Type model ids')
    expect(within(hint).getByRole('link', { name: 'Playground' }).getAttribute('href')).toBe('/g/gw_1/playground')
  })
})
