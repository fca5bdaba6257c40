import { render, screen, within } from '@testing-library/react'
import { describe, expect, it, vi } from 'vitest'
import type { LogEntry } from '@/api/types'
import { ToastProvider } from '@/components/ui/Toast'
import { LogDetails } from './LogDetails'
import { LogTable } from './LogTable'

/** A call as a backend from before fallbacks logged it: none of their fields. */
function log(overrides: Partial<LogEntry> = {}): LogEntry {
  return {
    id: 'log-1',
    request_id: 'req-1',
    timestamp: '2025-03-10T12:00:00.000Z',
    model: 'gpt-4o',
    upstream_model: 'gpt-4o',
    provider: 'openai',
    streaming: false,
    status_code: 200,
    ok: true,
    error_type: null,
    error_code: null,
    error_message: null,
    tokens_prompt: 1200,
    tokens_completion: 300,
    tokens_cached: 0,
    priced: true,
    cost: 0.0105,
    cost_nanousd: 10_500_000,
    latency_ms: 840,
    ttft_ms: null,
    attempts: 1,
    ...overrides,
  }
}

/** gpt-4o was rate limited on both keys, then timed out; Claude answered. */
const rescued = log({
  upstream_model: 'claude-sonnet-4-5',
  provider: 'anthropic',
  attempts: 3,
  failed_attempts: [
    { provider: 'openai', model: 'gpt-4o', error: 'key sk-…a1: 429' },
    { provider: 'openai', model: 'gpt-4o', error: 'timeout' },
  ],
  tokens_cached: 200,
  tokens_cache_write: 800,
  tokens_reasoning: 120,
  usage_source: 'provider',
  cost_breakdown: { input: 0.0006, cached_input: 0, cache_write: 0.003, output: 0.0045 },
  cost: 0.0081,
  cost_nanousd: 8_100_000,
})

function open(entry: LogEntry) {
  render(
    <ToastProvider>
      <LogDetails log={entry} onClose={vi.fn()} />
    </ToastProvider>,
  )
  return screen.getByTestId('log-details')
}

/** The value beside a label in the details. */
function value(details: HTMLElement, label: string): string {
  return (within(details).getByText(label, { selector: 'dt' }).nextElementSibling as HTMLElement).textContent ?? ''
}

describe('the attempts of a call, in its details', () => {
  it('lists each failed attempt (provider/model: error), then the provider and model that answered', () => {
    const details = open(rescued)
    // jsdom has no showModal, so the drawer's content counts as hidden.
    const attempts = within(within(details).getByTestId('log-attempts')).getAllByRole('listitem', { hidden: true })
    expect(attempts.map((a) => a.textContent)).toEqual([
      'openai/gpt-4o: key sk-…a1: 429',
      'openai/gpt-4o: timeout',
      'anthropic/claude-sonnet-4-5answered200 (ok)Fallback',
    ])
    expect(value(details, 'Attempts')).toBe('3')
  })

  it('makes clear that a fallback model answered instead of the one asked for', () => {
    const details = open(rescued)
    expect(within(details).getByTestId('fallback-note').textContent).toBe(
      'The client asked for gpt-4o; every attempt at it failed, so a fallback model answered.',
    )
    expect(value(details, 'Model')).toBe('gpt-4o')
    expect(value(details, 'Upstream model')).toBe('claude-sonnet-4-5Fallback')
    expect(value(details, 'Provider')).toBe('anthropic')
  })

  it('shows retries on other keys of the asked model without calling the answer a fallback', () => {
    const details = open(
      log({ attempts: 2, failed_attempts: [{ provider: 'openai', model: 'gpt-4o', error: 'key sk-…a1: 503' }] }),
    )
    const final = within(details).getByTestId('log-final-attempt')
    expect(final.textContent).toBe('openai/gpt-4oanswered200 (ok)')
    expect(within(details).queryByText('Fallback')).toBeNull()
    expect(within(details).queryByTestId('fallback-note')).toBeNull()
  })

  it('marks the final attempt failed when the fallbacks failed too', () => {
    const details = open(
      log({
        ok: false,
        status_code: 502,
        upstream_model: 'llama-3.3-70b-versatile',
        provider: 'groq',
        attempts: 2,
        failed_attempts: [{ provider: 'openai', model: 'gpt-4o', error: '500' }],
        priced: false,
        cost: null,
        cost_nanousd: null,
        cost_breakdown: null,
      }),
    )
    expect(within(details).getByTestId('log-final-attempt').textContent).toBe(
      'groq/llama-3.3-70b-versatilefailed too502 (error)Fallback',
    )
  })

  it('has no attempts block when the first attempt answered, nor for rows logged before fallbacks', () => {
    const details = open(log())
    expect(within(details).queryByTestId('log-attempts')).toBeNull()
    expect(within(details).queryByText('Fallback')).toBeNull()
  })
})

describe('the usage and cost of a call, in its details', () => {
  it('shows the cost of each part that is not zero, formatted like the total', () => {
    const details = open(rescued)
    expect(value(details, 'Cost')).toBe('$0.00818,100,000 nano-USD')
    expect(value(details, 'Input cost')).toBe('$0.0006')
    expect(value(details, 'Cache write cost')).toBe('$0.003')
    expect(value(details, 'Output cost')).toBe('$0.0045')
    expect(within(details).queryByText('Cached input cost')).toBeNull()
  })

  it('shows cache-write and reasoning tokens when there are some', () => {
    const details = open(rescued)
    expect(value(details, 'Cache-write tokens')).toBe('800')
    expect(value(details, 'Reasoning tokens')).toBe('120')
    expect(within(details).queryByText('Usage source')).toBeNull()
  })

  it('leaves out zero or missing parts, token kinds and the usage source of older rows', () => {
    const details = open(log({ cost_breakdown: { input: 0, cached_input: 0, cache_write: 0, output: 0 } }))
    for (const label of ['Input cost', 'Output cost', 'Cache-write tokens', 'Reasoning tokens', 'Usage source']) {
      expect(within(details).queryByText(label)).toBeNull()
    }
  })

  it('says when the token counts were estimated, or not known at all', () => {
    expect(value(open(log({ usage_source: 'estimated' })), 'Usage source')).toBe(
      'Estimated: the provider reported no usage, so Tollgate counted the tokens',
    )
    document.body.innerHTML = ''
    expect(value(open(log({ usage_source: 'none' })), 'Usage source')).toBe(
      'None: the provider reported no usage, and none could be estimated',
    )
  })
})

describe('a call answered by a fallback, in the logs table', () => {
  it('carries an icon naming the fallback that answered; other calls do not', () => {
    render(<LogTable logs={[rescued, log({ id: 'log-2' })]} onOpen={vi.fn()} />)
    const [, fallbackRow, plainRow] = screen.getAllByRole('row')
    const icon = within(fallbackRow).getByRole('img', { name: 'Answered by the fallback anthropic/claude-sonnet-4-5' })
    expect(icon.querySelector('title')?.textContent).toBe('Answered by the fallback anthropic/claude-sonnet-4-5')
    expect(within(plainRow).queryByTestId('fallback-icon')).toBeNull()
  })
})
