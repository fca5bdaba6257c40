import { describe, expect, it } from 'vitest'
import type { Limits } from '@/api/types'
import { describeLimit, limitText, parseLimit, readDrafts, toDrafts } from './limits'

const none: Limits = { rpm: null, tpm: null, max_concurrent: null, daily_budget_usd: null, monthly_budget_usd: null }

describe('a limit in words', () => {
  it('names the count and its unit, singular for one', () => {
    expect(describeLimit('rpm', 1)).toBe('1 request per minute')
    expect(describeLimit('rpm', 600)).toBe('600 requests per minute')
    expect(describeLimit('tpm', 100_000)).toBe('100,000 tokens per minute')
    expect(describeLimit('max_concurrent', 1)).toBe('1 concurrent request')
    expect(describeLimit('daily_budget_usd', 5)).toBe('$5.00 a day')
    expect(describeLimit('monthly_budget_usd', 120.5)).toBe('$120.50 a month')
  })
})

describe('a limit in the form', () => {
  it('shows no limit as empty, and dollars with their cents', () => {
    expect(limitText('count', null)).toBe('')
    expect(limitText('count', 600)).toBe('600')
    expect(limitText('usd', 5)).toBe('5.00')
    expect(limitText('usd', 19.99)).toBe('19.99')
    // A value the form could not have produced is shown as it is.
    expect(limitText('usd', 0.005)).toBe('0.005')
  })

  it('reads whole counts of at least one, with or without separators', () => {
    expect(parseLimit('count', '')).toEqual({ value: null })
    expect(parseLimit('count', '  ')).toEqual({ value: null })
    expect(parseLimit('count', '600')).toEqual({ value: 600 })
    expect(parseLimit('count', '100,000')).toEqual({ value: 100000 })
    for (const text of ['0', '1.5', '-3', 'abc', '1e3']) expect(parseLimit('count', text)).toHaveProperty('error')
  })

  it('reads dollars above zero with at most cents', () => {
    expect(parseLimit('usd', '25')).toEqual({ value: 25 })
    expect(parseLimit('usd', '$12.50')).toEqual({ value: 12.5 })
    expect(parseLimit('usd', '.5')).toEqual({ value: 0.5 })
    expect(parseLimit('usd', '1,000')).toEqual({ value: 1000 })
    for (const text of ['0', '0.00', '5.555', '-1', 'five']) expect(parseLimit('usd', text)).toHaveProperty('error')
  })
})

describe('the changes of the form', () => {
  const saved: Limits = { ...none, rpm: 600, daily_budget_usd: 5 }
  const ceilings: Limits = { ...none, rpm: 1000 }

  it('holds only what differs from the saved limits, null for a cleared field', () => {
    const drafts = { ...toDrafts(saved), rpm: '60', daily_budget_usd: '', tpm: '5000' }
    expect(readDrafts(drafts, saved, ceilings)).toEqual({ patch: { rpm: 60, daily_budget_usd: null, tpm: 5000 }, errors: {} })
  })

  it('holds nothing for an untouched form, or an amount written differently', () => {
    expect(readDrafts(toDrafts(saved), saved, ceilings)).toEqual({ patch: {}, errors: {} })
    expect(readDrafts({ ...toDrafts(saved), daily_budget_usd: '5' }, saved, ceilings).patch).toEqual({})
  })

  it('refuses a value over the operator’s ceiling', () => {
    const { patch, errors } = readDrafts({ ...toDrafts(saved), rpm: '1001' }, saved, ceilings)
    expect(patch).toEqual({})
    expect(errors).toEqual({ rpm: 'At most 1,000: the operator’s ceiling.' })
  })
})
