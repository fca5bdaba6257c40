import { fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { beforeEach, describe, expect, it } from 'vitest'
import { createApiClient } from '@/api/client'
import type { ProviderKey, ProviderOption } from '@/api/types'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { routes } from '@/app/router'
import { sessionStore } from '@/lib/session'
import { json, serveForTests } from '@/test/server'

// A control plane with one gateway and its provider keys: POST adds one (or
// refuses it with `refusal`), DELETE removes one. Every request is recorded.
const providers: ProviderOption[] = [
  { name: 'openai', operator_keys: true },
  { name: 'anthropic', operator_keys: true },
  { name: 'groq', operator_keys: false },
]
let keys: ProviderKey[] = []
let refusal: { code: string; message: string } | null = null
let requests: { method: string; path: string; body: unknown }[] = []

const FIVE_MINUTES_AGO = new Date(Date.now() - 5 * 60_000).toISOString()

const openaiKey: ProviderKey = {
  id: 'key_1',
  provider: 'openai',
  label: 'prod',
  key_hint: 'sk-…abcd',
  status: 'active',
  last_used_at: FIVE_MINUTES_AGO,
  created_at: '2025-03-01T10:00:00Z',
}
const anthropicKey: ProviderKey = {
  id: 'key_2',
  provider: 'anthropic',
  label: '',
  key_hint: 'sk-ant-…wxyz',
  status: 'invalid',
  last_used_at: null,
  created_at: '2025-03-02T10:00:00Z',
}

const gateway = {
  id: 'gw_1',
  name: 'prod',
  secret_hint: 'tg-…_gw1',
  created_at: '2025-03-01T00:00:00Z',
  updated_at: '2025-03-01T00:00:00Z',
}

async function handle(req: IncomingMessage, res: ServerResponse) {
  const parts: Buffer[] = []
  for await (const part of req) parts.push(part as Buffer)
  const text = Buffer.concat(parts).toString('utf8')
  const path = new URL(req.url ?? '/', 'http://x').pathname
  requests.push({ method: req.method ?? '', path, body: text ? JSON.parse(text) : undefined })
  const key = `${req.method} ${path}`
  if (key === 'GET /gateways') return json(res, 200, { gateways: [gateway] })
  if (key === 'GET /gateways/gw_1') return json(res, 200, gateway)
  if (key === 'GET /gateways/gw_1/provider-keys') return json(res, 200, { keys, providers })
  if (key === 'POST /gateways/gw_1/provider-keys') {
    if (refusal) return json(res, 400, { error: refusal })
    const body = JSON.parse(text) as { provider: string; api_key: string; label: string }
    const added: ProviderKey = {
      id: `key_${keys.length + 10}`,
      provider: body.provider,
      label: body.label,
      key_hint: `${body.api_key.slice(0, 3)}…${body.api_key.slice(-4)}`,
      status: 'active',
      last_used_at: null,
      created_at: new Date().toISOString(),
    }
    keys = [...keys, added]
    return json(res, 201, added)
  }
  const deleting = /^DELETE \/gateways\/gw_1\/provider-keys\/([^/]+)$/.exec(key)
  if (deleting && keys.some((k) => k.id === deleting[1])) {
    keys = keys.filter((k) => k.id !== deleting[1])
    res.writeHead(204)
    return res.end()
  }
  json(res, 404, { error: { code: 'not_found', message: 'nope' } })
}

const testServer = serveForTests((req, res) => void handle(req, res))

beforeEach(() => {
  keys = []
  refusal = null
  requests = []
  sessionStore.set({ id: 'u1', username: 'Brave_Fox', token: 'jwt', expires_at: '2999-01-01T00:00:00Z' })
})

async function openKeys() {
  const client = createApiClient({ baseUrl: testServer.url, getToken: sessionStore.token })
  const router = createMemoryRouter(routes, { initialEntries: ['/g/gw_1/keys'] })
  render(
    <Providers client={client} queryClient={createQueryClient()}>
      <RouterProvider router={router} />
    </Providers>,
  )
  await screen.findByRole('heading', { name: 'Add a key' })
}

const rows = () => screen.queryAllByTestId('provider-key')
const type = (label: string, value: string) =>
  fireEvent.change(screen.getByLabelText(label, { exact: true }), { target: { value } })
const click = (name: string) => fireEvent.click(screen.getByRole('button', { name }))
const keyInput = () => screen.getByLabelText('API key', { exact: true }) as HTMLInputElement
const sent = (method: string) => requests.filter((r) => r.method === method)

describe('the provider keys of a gateway', () => {
  it('is a section of the gateway, named Keys', async () => {
    await openKeys()
    const nav = screen.getByRole('navigation', { name: 'Gateway sections' })
    expect(within(nav).getByRole('link', { name: 'Keys' }).getAttribute('aria-current')).toBe('page')
  })

  it('lists each key with its provider, label, hint, status, last use and creation date', async () => {
    keys = [openaiKey, anthropicKey]
    await openKeys()
    await waitFor(() => expect(rows()).toHaveLength(2))
    const [openai, anthropic] = rows().map((row) => within(row))

    expect(openai.getByText('OpenAI')).toBeTruthy()
    expect(openai.getByTestId('key-label').textContent).toBe('prod')
    expect(openai.getByTestId('key-hint').textContent).toBe('sk-…abcd')
    expect(openai.getByTestId('key-status').textContent).toBe('Active')
    expect(openai.getByTestId('key-last-used').textContent).toBe('5 min ago')
    expect(rows()[0].textContent).toContain('Added Mar 1, 2025')
    expect(openai.queryByTestId('key-invalid-reason')).toBeNull()

    expect(anthropic.getByText('Anthropic')).toBeTruthy()
    expect(anthropic.queryByTestId('key-label')).toBeNull()
    expect(anthropic.getByTestId('key-hint').textContent).toBe('sk-ant-…wxyz')
    expect(anthropic.getByTestId('key-status').textContent).toBe('Invalid')
    expect(anthropic.getByTestId('key-last-used').textContent).toBe('never')
    expect(anthropic.getByTestId('key-invalid-reason').textContent).toContain('Anthropic refused this key (401 or 403)')
  })

  it('shows an empty state when the gateway has no key', async () => {
    await openKeys()
    expect((await screen.findByTestId('no-keys')).textContent).toContain('operator’s keys')
    expect(screen.getByRole('heading', { name: 'No keys yet' })).toBeTruthy()
    expect(rows()).toHaveLength(0)
  })

  it('says for each provider whether calls without a key of its own use the operator’s keys or are refused', async () => {
    keys = [openaiKey]
    await openKeys()
    const coverage = () => screen.getAllByTestId('provider-coverage').map((row) => row.textContent)
    await waitFor(() => expect(coverage()).toHaveLength(3))
    expect(coverage()).toEqual([
      'OpenAI1 keyWithout a key of your own, calls to OpenAI use the operator’s keys.',
      'AnthropicWithout a key of your own, calls to Anthropic use the operator’s keys.',
      'GroqWithout a key of your own, calls to Groq are refused: add a key.',
    ])
    // The form says it for the provider picked.
    fireEvent.change(screen.getByLabelText('Provider'), { target: { value: 'groq' } })
    expect(screen.getByLabelText('Provider').getAttribute('aria-describedby')).toBeTruthy()
    const hintId = screen.getByLabelText('Provider').getAttribute('aria-describedby') ?? ''
    expect(document.getElementById(hintId)?.textContent).toBe(
      'Without a key of your own, calls to Groq are refused: add a key.',
    )
  })

  it('adds a key: sends the provider, key and label, clears the key and shows only its hint', async () => {
    keys = [openaiKey]
    await openKeys()
    expect(keyInput().type).toBe('password')
    fireEvent.change(screen.getByLabelText('Provider'), { target: { value: 'groq' } })
    type('API key', '  gsk-secret-1234wxyz ')
    type('Label', ' e2e ')
    click('Add key')

    await screen.findByText('Groq key added')
    expect(sent('POST')).toEqual([
      { method: 'POST', path: '/gateways/gw_1/provider-keys', body: { provider: 'groq', api_key: 'gsk-secret-1234wxyz', label: 'e2e' } },
    ])
    expect(keyInput().value).toBe('')
    expect((screen.getByLabelText('Label', { exact: true }) as HTMLInputElement).value).toBe('')
    await waitFor(() => expect(rows()).toHaveLength(2))
    const added = within(rows()[1])
    expect(added.getByText('Groq')).toBeTruthy()
    expect(added.getByTestId('key-label').textContent).toBe('e2e')
    expect(added.getByTestId('key-hint').textContent).toBe('gsk…wxyz')
    expect(added.getByTestId('key-status').textContent).toBe('Active')
    expect(added.getByTestId('key-last-used').textContent).toBe('never')
    expect(document.body.innerHTML).not.toContain('gsk-secret-1234wxyz')
  })

  it('adds a key without a label, as an empty label', async () => {
    await openKeys()
    type('API key', 'sk-no-label-0000')
    click('Add key')
    await screen.findByText('OpenAI key added')
    expect(sent('POST')[0].body).toEqual({ provider: 'openai', api_key: 'sk-no-label-0000', label: '' })
  })

  it('cannot add a key before one is typed', async () => {
    await openKeys()
    expect((screen.getByRole('button', { name: 'Add key' }) as HTMLButtonElement).disabled).toBe(true)
    type('API key', '   ')
    expect((screen.getByRole('button', { name: 'Add key' }) as HTMLButtonElement).disabled).toBe(true)
  })

  it('shows the server’s refusal (400) by the field it is about, keeping the key to fix', async () => {
    refusal = { code: 'invalid_api_key', message: 'An OpenAI key starts with sk-' }
    await openKeys()
    type('API key', 'not-a-key')
    click('Add key')
    const message = await screen.findByText('An OpenAI key starts with sk-')
    expect(keyInput().getAttribute('aria-invalid')).toBe('true')
    expect(keyInput().getAttribute('aria-describedby')).toContain(message.id)
    expect(keyInput().value).toBe('not-a-key')
    expect(rows()).toHaveLength(0)

    // Editing the key clears the refusal.
    type('API key', 'sk-fixed')
    await waitFor(() => expect(screen.queryByText('An OpenAI key starts with sk-')).toBeNull())
  })

  it('shows a refusal about the whole form above the button', async () => {
    refusal = { code: 'too_many_keys', message: 'A gateway holds at most 20 keys' }
    await openKeys()
    type('API key', 'sk-one-more')
    click('Add key')
    const alert = (await screen.findByText('A gateway holds at most 20 keys')).closest('[role="alert"]')
    expect(alert?.textContent).toContain('The key was not added')
  })

  it('deletes a key only once the dialog confirms it', async () => {
    keys = [openaiKey, anthropicKey]
    await openKeys()
    await waitFor(() => expect(rows()).toHaveLength(2))

    click('Delete the OpenAI key prod')
    const dialog = screen.getByRole('dialog', { name: 'Delete this OpenAI key?' })
    expect(dialog.textContent).toContain('Calls stop using sk-…abcd (prod) at once')
    expect(dialog.textContent).toContain(
      'It is your last OpenAI key. Without a key of your own, calls to OpenAI use the operator’s keys.',
    )
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }))
    expect(screen.queryByRole('dialog')).toBeNull()
    expect(sent('DELETE')).toEqual([])
    expect(rows()).toHaveLength(2)

    click('Delete the OpenAI key prod')
    fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete key' }))
    await screen.findByText('OpenAI key deleted')
    expect(sent('DELETE')).toEqual([{ method: 'DELETE', path: '/gateways/gw_1/provider-keys/key_1', body: undefined }])
    await waitFor(() => expect(rows()).toHaveLength(1))
    expect(within(rows()[0]).getByTestId('key-hint').textContent).toBe('sk-ant-…wxyz')
    expect(screen.queryByRole('dialog')).toBeNull()
  })

  it('keeps the dialog open with the server’s message when the delete fails', async () => {
    keys = [{ ...openaiKey, id: 'gone' }]
    await openKeys()
    await waitFor(() => expect(rows()).toHaveLength(1))
    keys = []
    click('Delete the OpenAI key prod')
    fireEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Delete key' }))
    expect((await within(screen.getByRole('dialog')).findByRole('alert')).textContent).toBe('nope')
  })
})
