import { describe, expect, it } from 'vitest'
import { computeCost, describePricing } from './cost'

const pricing = { input_per_mtok: 2.5, cached_input_per_mtok: 1.25, output_per_mtok: 10 }

describe('computeCost', () => {
  it('prices prompt and completion tokens per million', () => {
    const cost = computeCost({ prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 }, pricing)
    expect(cost).toBeCloseTo(0.0025 + 0.005, 12)
  })

  it('bills cached prompt tokens at the cached price', () => {
    const cost = computeCost(
      { prompt_tokens: 1000, completion_tokens: 0, total_tokens: 1000, prompt_tokens_details: { cached_tokens: 400 } },
      pricing,
    )
    expect(cost).toBeCloseTo((600 * 2.5 + 400 * 1.25) / 1e6, 12)
  })

  it('falls back to the input price without a cached price, and to null without prices', () => {
    const usage = { prompt_tokens: 10, completion_tokens: 0, total_tokens: 10, prompt_tokens_details: { cached_tokens: 10 } }
    expect(computeCost(usage, { ...pricing, cached_input_per_mtok: null })).toBeCloseTo(25 / 1e6, 12)
    expect(computeCost(usage, null)).toBeNull()
  })

  it('describes prices', () => {
    expect(describePricing(pricing)).toBe('$2.5 in · $10 out per 1M tokens')
    expect(describePricing(undefined)).toBeNull()
  })
})
