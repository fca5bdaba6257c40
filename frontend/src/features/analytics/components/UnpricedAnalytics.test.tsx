import { render, screen, within } from '@testing-library/react'
import { beforeAll, describe, expect, it } from 'vitest'
import type { AnalyticsSummary, ModelStats } from '@/api/types'
import { UNPRICED_CALLS_EXPLANATION, UNPRICED_EXPLANATION } from '@/components/ui/Cost'
import { ModelBreakdown } from './Charts'
import { SummaryCards } from './SummaryCards'

beforeAll(() => {
  // Recharts' ResponsiveContainer observes its size; jsdom has no layout.
  globalThis.ResizeObserver ??= class {
    observe() {}
    unobserve() {}
    disconnect() {}
  }
})

function summary(overrides: Partial<AnalyticsSummary>): AnalyticsSummary {
  return {
    total_requests: 5,
    tokens_in: 100,
    tokens_out: 50,
    total_tokens: 150,
    total_cost: 0.0003,
    total_cost_nanousd: 300_000,
    unpriced_requests: 0,
    avg_latency_ms: 100,
    p50_latency_ms: 90,
    p95_latency_ms: 150,
    p99_latency_ms: 180,
    min_latency_ms: 50,
    max_latency_ms: 200,
    avg_ttft_ms: null,
    error_count: 0,
    error_rate: 0,
    success_rate: 1,
    ...overrides,
  }
}

function costCard() {
  return screen.getByRole('group', { name: 'Cost' })
}

describe('the total cost card', () => {
  it('says it excludes the unpriced calls, with the reason', () => {
    render(<SummaryCards summary={summary({ total_requests: 5, unpriced_requests: 2, total_cost: 0.0003 })} />)
    expect(screen.getByTestId('stat-cost').textContent).toBe('$0.0003')
    const note = within(costCard()).getByTestId('unpriced-note')
    expect(note.getAttribute('title')).toBe(UNPRICED_CALLS_EXPLANATION)
    expect(note.textContent).toBe(`Excludes 2 unpriced calls (${UNPRICED_CALLS_EXPLANATION})`)
  })

  it('counts one unpriced call in the singular', () => {
    render(<SummaryCards summary={summary({ unpriced_requests: 1 })} />)
    expect(within(costCard()).getByTestId('unpriced-note').textContent).toMatch(/^Excludes 1 unpriced call \(/)
  })

  it('reads "—", never $0.00, when no call is priced', () => {
    render(<SummaryCards summary={summary({ total_requests: 3, unpriced_requests: 3, total_cost: 0, total_cost_nanousd: 0 })} />)
    const value = screen.getByTestId('stat-cost')
    expect(within(value).getByTitle(UNPRICED_CALLS_EXPLANATION).textContent).toContain('—')
    expect(costCard().textContent).not.toContain('$0.00')
    expect(within(costCard()).getByTestId('unpriced-note').textContent).toMatch(/^Excludes 3 unpriced calls/)
  })

  it('shows the cost per call when every call is priced', () => {
    render(<SummaryCards summary={summary({ total_requests: 3, total_cost: 0.0003 })} />)
    expect(costCard().textContent).toContain('$0.0001 per call')
    expect(within(costCard()).queryByTestId('unpriced-note')).toBeNull()
  })
})

function stats(overrides: Partial<ModelStats>): ModelStats {
  return {
    requests: 4,
    tokens_in: 40,
    tokens_out: 20,
    total_tokens: 60,
    cost: 0.0002,
    unpriced_requests: 0,
    avg_latency_ms: 100,
    error_count: 0,
    ...overrides,
  }
}

describe('the per-model breakdown', () => {
  it('marks a model none of whose calls is priced with "—" and its explanation', () => {
    render(<ModelBreakdown breakdown={{ 'ollama/llama3.2': stats({ requests: 3, cost: 0, unpriced_requests: 3 }) }} />)
    const cell = screen.getByTestId('model-cost-ollama/llama3.2')
    expect(within(cell).getByTitle(UNPRICED_EXPLANATION).textContent).toContain('—')
    expect(cell.textContent).not.toContain('$')
  })

  it('notes how many calls a partly priced model leaves out of its cost', () => {
    render(<ModelBreakdown breakdown={{ 'openai/gpt-4o': stats({ requests: 4, cost: 0.0002, unpriced_requests: 1 }) }} />)
    const cell = screen.getByTestId('model-cost-openai/gpt-4o')
    expect(cell.textContent).toMatch(/^\$0\.0002excl\. 1 unpriced call/)
    expect(within(cell).getByTestId('unpriced-note').getAttribute('title')).toBe(UNPRICED_CALLS_EXPLANATION)
  })

  it('shows plain dollars for a fully priced model', () => {
    render(<ModelBreakdown breakdown={{ 'mock/echo': stats({}) }} />)
    const cell = screen.getByTestId('model-cost-mock/echo')
    expect(cell.textContent).toBe('$0.0002')
  })
})
