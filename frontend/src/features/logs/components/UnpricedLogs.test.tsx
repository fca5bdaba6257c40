import { render, screen, within } from '@testing-library/react'
import { describe, expect, it, vi } from 'vitest'
import type { LogEntry } from '@/api/types'
import { UNPRICED_EXPLANATION } from '@/components/ui/Cost'
import { ToastProvider } from '@/components/ui/Toast'
import { LogDetails } from './LogDetails'
import { LogTable } from './LogTable'

function log(overrides: Partial<LogEntry>): LogEntry {
  return {
    id: 'log-1',
    request_id: 'req-1',
    timestamp: '2025-03-10T12:00:00.000Z',
    model: 'mock/echo',
    upstream_model: 'echo',
    provider: 'mock',
    streaming: false,
    status_code: 200,
    ok: true,
    error_type: null,
    error_code: null,
    error_message: null,
    tokens_prompt: 12,
    tokens_completion: 4,
    tokens_cached: 0,
    priced: true,
    cost: 0.000012,
    cost_nanousd: 12000,
    latency_ms: 120,
    ttft_ms: null,
    attempts: 1,
    ...overrides,
  }
}

const unpriced = log({
  id: 'log-unpriced',
  request_id: 'req-unpriced',
  model: 'ollama/llama3.2',
  upstream_model: 'llama3.2',
  provider: 'ollama',
  priced: false,
  cost: null,
  cost_nanousd: null,
})

function costCell(row: HTMLElement): HTMLElement {
  // Time, status, model, tokens, cost, latency.
  return within(row).getAllByRole('cell')[4]
}

describe('the cost of an unpriced call in the logs table', () => {
  it('reads "—" with its explanation as tooltip and accessible text, never $0.00', () => {
    render(<LogTable logs={[unpriced]} onOpen={vi.fn()} />)
    const cell = costCell(screen.getAllByRole('row')[1])
    const dash = within(cell).getByTitle(UNPRICED_EXPLANATION)
    expect(dash.textContent).toContain('—')
    expect(within(cell).getByText(UNPRICED_EXPLANATION).className).toContain('sr-only')
    expect(cell.textContent).not.toMatch(/\$/)
    expect(screen.getByTestId('logs-table').textContent).not.toContain('$0.00')
  })

  it('still shows the dollars of priced calls, a priced zero included', () => {
    const free = log({ id: 'log-free', ok: false, status_code: 400, cost: 0, cost_nanousd: 0, tokens_prompt: 0, tokens_completion: 0 })
    render(<LogTable logs={[log({}), free, unpriced]} onOpen={vi.fn()} />)
    const [, priced, zero, none] = screen.getAllByRole('row')
    expect(costCell(priced).textContent).toBe('$0.000012')
    expect(costCell(zero).textContent).toBe('$0.00')
    expect(within(costCell(none)).queryByTitle(UNPRICED_EXPLANATION)).not.toBeNull()
  })

  it('treats a null cost as unpriced even without the flag', () => {
    render(<LogTable logs={[log({ cost: null, cost_nanousd: null })]} onOpen={vi.fn()} />)
    const cell = costCell(screen.getAllByRole('row')[1])
    expect(within(cell).getByTitle(UNPRICED_EXPLANATION).textContent).toContain('—')
  })
})

describe('the log detail drawer', () => {
  const open = (entry: LogEntry) =>
    render(
      <ToastProvider>
        <LogDetails log={entry} onClose={vi.fn()} />
      </ToastProvider>,
    )

  it('explains an unpriced cost in words, with no dollar or nano-USD amount', () => {
    open(unpriced)
    const details = screen.getByTestId('log-details')
    const cost = within(details).getByText('Cost').nextElementSibling as HTMLElement
    expect(within(cost).getByTitle(UNPRICED_EXPLANATION).textContent).toContain('—')
    expect(within(cost).getByTestId('unpriced-reason').textContent).toBe(`${UNPRICED_EXPLANATION}.`)
    expect(cost.textContent).not.toMatch(/\$|nano-USD/)
  })

  it('shows the dollars and nano-USD of a priced call', () => {
    open(log({}))
    const cost = within(screen.getByTestId('log-details')).getByText('Cost').nextElementSibling as HTMLElement
    expect(cost.textContent).toBe('$0.00001212,000 nano-USD')
    expect(within(cost).queryByTitle(UNPRICED_EXPLANATION)).toBeNull()
  })

  it('shows the error code beside the error type', () => {
    open(
      log({
        ok: false,
        status_code: 404,
        error_type: 'invalid_request_error',
        error_code: 'model_not_found',
        error_message: 'The model `gpt-17` does not exist',
        priced: false,
        cost: null,
        cost_nanousd: null,
      }),
    )
    const details = screen.getByTestId('log-details')
    expect((within(details).getByText('Error type').nextElementSibling as HTMLElement).textContent).toBe('invalid_request_error')
    expect((within(details).getByText('Error code').nextElementSibling as HTMLElement).textContent).toBe('model_not_found')
    // The error banner names both, above the message.
    const banner = within(details).getByText('The model `gpt-17` does not exist', { selector: 'pre' }).parentElement as HTMLElement
    expect(within(banner).getByText('model_not_found', { selector: 'code' })).toBeTruthy()
    expect(banner.textContent).toContain('invalid_request_error')
  })

  it('shows "—" for the error code of a successful call', () => {
    open(log({}))
    const code = within(screen.getByTestId('log-details')).getByText('Error code').nextElementSibling as HTMLElement
    expect(code.textContent).toBe('—')
  })
})
