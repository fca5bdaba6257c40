import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { type IncomingMessage, type ServerResponse } from 'node:http'
import { createMemoryRouter, RouterProvider } from 'react-router'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createApiClient } from '@/api/client'
import type { Limits, LimitsUsage } from '@/api/types'
import { Providers } from '@/app/Providers'
import { createQueryClient } from '@/app/queryClient'
import { routes } from '@/app/router'
import { sessionStore } from '@/lib/session'
import { json, serveForTests } from '@/test/server'
import { USAGE_REFRESH_MS } from '../hooks'

// A control plane with one gateway: GET answers its limits, their ceilings and
// their use; PATCH changes the limits it names (null removes one) or refuses
// with `refusal`.
let limits: Limits
let ceilings: Limits
let usage: LimitsUsage
let refusal: string | null = null
let patches: unknown[] = []
let reads = 0

const gateway = () => ({
  id: 'gw_1',
  name: 'prod',
  secret_hint: 'tg-…_gw1',
  fallbacks: {},
  limits,
  limit_ceilings: ceilings,
  usage,
  created_at: '2025-03-01T00:00:00Z',
  updated_at: '2025-03-01T00:00:00Z',
})

async function handle(req: IncomingMessage, res: ServerResponse) {
  const parts: Buffer[] = []
  for await (const part of req) parts.push(part as Buffer)
  const key = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`
  // The list has no limits, as the real one.
  if (key === 'GET /gateways') return json(res, 200, { gateways: [{ id: 'gw_1', name: 'prod', secret_hint: 'tg-…_gw1' }] })
  if (key === 'GET /gateways/gw_1') {
    reads += 1
    return json(res, 200, gateway())
  }
  if (key === 'PATCH /gateways/gw_1') {
    const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { limits: Partial<Limits> }
    patches.push(body)
    if (refusal) return json(res, 400, { error: { code: 'invalid_limits', message: refusal } })
    limits = { ...limits, ...body.limits }
    return json(res, 200, gateway())
  }
  json(res, 404, { error: { code: 'not_found', message: 'nope' } })
}

const testServer = serveForTests((req, res) => void handle(req, res))

beforeEach(() => {
  limits = { rpm: 600, tpm: null, max_concurrent: 4, daily_budget_usd: 5, monthly_budget_usd: 12.5 }
  ceilings = { rpm: 1000, tpm: null, max_concurrent: 10, daily_budget_usd: 50, monthly_budget_usd: null }
  usage = {
    requests_this_minute: 540,
    tokens_this_minute: 1234,
    concurrent: 1,
    spend_today_usd: 5,
    spend_this_month_usd: 3.2,
  }
  refusal = null
  patches = []
  reads = 0
  sessionStore.set({ id: 'u1', username: 'Brave_Fox', token: 'jwt', expires_at: '2999-01-01T00:00:00Z' })
})

afterEach(() => {
  vi.useRealTimers()
})

async function openLimits() {
  const client = createApiClient({ baseUrl: testServer.url, getToken: sessionStore.token })
  const router = createMemoryRouter(routes, { initialEntries: ['/g/gw_1/limits'] })
  render(
    <Providers client={client} queryClient={createQueryClient()}>
      <RouterProvider router={router} />
    </Providers>,
  )
  await screen.findByRole('form', { name: 'Set limits' })
}

const field = (label: string) => screen.getByLabelText(label, { exact: true }) as HTMLInputElement
const type = (label: string, value: string) => fireEvent.change(field(label), { target: { value } })
const saveButton = () => screen.getByRole('button', { name: 'Save limits' }) as HTMLButtonElement
/** The hint or error line under a field. */
const noteOf = (label: string) =>
  (field(label).getAttribute('aria-describedby') ?? '')
    .split(' ')
    .filter(Boolean)
    .map((id) => document.getElementById(id)?.textContent)
    .join(' ')
const usageRow = (limit: string) => screen.getByTestId(`usage-${limit}`)
const meter = (name: string) => screen.queryByRole('meter', { name })

describe('the limits of a gateway', () => {
  it('is a section of the gateway, named Limits', async () => {
    await openLimits()
    const nav = screen.getByRole('navigation', { name: 'Gateway sections' })
    expect(within(nav).getByRole('link', { name: 'Limits' }).getAttribute('aria-current')).toBe('page')
  })

  it('fills each field with the saved limit (empty for none) and shows the operator’s ceiling under it', async () => {
    await openLimits()
    expect(field('Requests per minute').value).toBe('600')
    expect(field('Tokens per minute').value).toBe('')
    expect(field('Tokens per minute').placeholder).toBe('No limit')
    expect(field('Concurrent requests').value).toBe('4')
    expect(field('Daily budget').value).toBe('5.00')
    expect(field('Monthly budget').value).toBe('12.50')

    expect(noteOf('Requests per minute')).toBe('At most 1,000 (the operator’s ceiling).')
    expect(noteOf('Tokens per minute')).toBe('')
    expect(noteOf('Concurrent requests')).toBe('At most 10 (the operator’s ceiling).')
    expect(noteOf('Daily budget')).toBe('At most $50.00 (the operator’s ceiling).')
    expect(noteOf('Monthly budget')).toBe('')
  })

  it('saves only the fields that changed, with null for a cleared one', async () => {
    await openLimits()
    expect(saveButton().disabled).toBe(true)
    type('Requests per minute', '60')
    type('Tokens per minute', '100,000')
    type('Daily budget', '')
    // The same amount written differently is no change.
    type('Monthly budget', '12.5')
    fireEvent.click(saveButton())

    await screen.findByText('Limits saved')
    expect(patches).toEqual([{ limits: { rpm: 60, tpm: 100000, daily_budget_usd: null } }])
    // The form starts again from what the server stored.
    await waitFor(() => expect(field('Daily budget').value).toBe(''))
    expect(field('Requests per minute').value).toBe('60')
    expect(field('Tokens per minute').value).toBe('100000')
    expect(field('Monthly budget').value).toBe('12.50')
    expect(saveButton().disabled).toBe(true)
  })

  it('sends dollars with their cents', async () => {
    await openLimits()
    type('Monthly budget', '$19.99')
    fireEvent.click(saveButton())
    await screen.findByText('Limits saved')
    expect(patches).toEqual([{ limits: { monthly_budget_usd: 19.99 } }])
  })

  it('will not send what is not a limit, or is over the operator’s ceiling', async () => {
    await openLimits()
    type('Requests per minute', '1.5')
    expect(noteOf('Requests per minute')).toBe('A whole number of at least 1, or empty for no limit.')
    expect(saveButton().disabled).toBe(true)
    type('Requests per minute', '0')
    expect(noteOf('Requests per minute')).toBe('A whole number of at least 1, or empty for no limit.')
    type('Requests per minute', '2000')
    expect(noteOf('Requests per minute')).toBe('At most 1,000: the operator’s ceiling.')
    expect(field('Requests per minute').getAttribute('aria-invalid')).toBe('true')
    type('Requests per minute', '1000')
    expect(saveButton().disabled).toBe(false)
    type('Daily budget', '5.555')
    expect(noteOf('Daily budget')).toBe('Dollars and cents above zero, such as 25 or 12.50; empty for no budget.')
    expect(saveButton().disabled).toBe(true)
    fireEvent.submit(screen.getByRole('form', { name: 'Set limits' }))
    expect(patches).toEqual([])

    fireEvent.click(screen.getByRole('button', { name: 'Reset' }))
    expect(field('Requests per minute').value).toBe('600')
    expect(field('Daily budget').value).toBe('5.00')
  })

  it('shows the server’s message when it refuses the limits (400), keeping what was typed', async () => {
    refusal = 'tpm 5000000 is over the operator’s ceiling of 1000000'
    await openLimits()
    type('Tokens per minute', '5000000')
    fireEvent.click(saveButton())
    const alert = (await screen.findByText(refusal)).closest('[role="alert"]')
    expect(alert?.textContent).toContain('The limits were not saved')
    expect(patches).toEqual([{ limits: { tpm: 5000000 } }])
    expect(field('Tokens per minute').value).toBe('5000000')
    // Editing again clears the refusal.
    type('Tokens per minute', '500000')
    await waitFor(() => expect(screen.queryByText(refusal!)).toBeNull())
  })

  it('shows each use against its cap, and just the number where there is no limit', async () => {
    await openLimits()
    expect(usageRow('rpm').textContent).toBe('Requests this minute540 of 600')
    expect(meter('Requests this minute')?.getAttribute('aria-valuetext')).toBe('540 of 600')
    expect(meter('Requests this minute')?.getAttribute('aria-valuenow')).toBe('540')
    expect(meter('Requests this minute')?.getAttribute('aria-valuemax')).toBe('600')
    expect((meter('Requests this minute')?.firstElementChild as HTMLElement).style.width).toBe('90%')

    expect(usageRow('tpm').textContent).toBe('Tokens this minute1,234 · no limit')
    expect(meter('Tokens this minute')).toBeNull()

    expect(meter('Requests in flight')?.getAttribute('aria-valuetext')).toBe('1 of 4')
    expect(meter('Spent today')?.getAttribute('aria-valuetext')).toBe('$5.00 of $5.00')
    expect((meter('Spent today')?.firstElementChild as HTMLElement).style.width).toBe('100%')
    expect(meter('Spent this month')?.getAttribute('aria-valuetext')).toBe('$3.20 of $12.50')
  })

  it('reads the use again every few seconds while the page is open', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true, toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval'] })
    await openLimits()
    expect(meter('Requests this minute')?.getAttribute('aria-valuetext')).toBe('540 of 600')
    const before = reads
    usage = { ...usage, requests_this_minute: 600, tokens_this_minute: 4321 }
    await act(async () => {
      await vi.advanceTimersByTimeAsync(USAGE_REFRESH_MS)
    })
    await waitFor(() => expect(meter('Requests this minute')?.getAttribute('aria-valuetext')).toBe('600 of 600'))
    expect(reads).toBeGreaterThan(before)
    expect(usageRow('tpm').textContent).toBe('Tokens this minute4,321 · no limit')
  })
})
