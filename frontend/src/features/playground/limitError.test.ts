import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { ApiError } from '@/api/client'
import type { Limits } from '@/api/types'
import { explainLimitError, parseResetDuration, readRateLimitHeaders } from './limitError'

const NOW = new Date('2025-03-10T12:00:00Z')

const limits: Limits = {
  rpm: 5,
  tpm: 20_000,
  max_concurrent: 2,
  daily_budget_usd: 5,
  monthly_budget_usd: 120,
}

/** A 429 as the gateway answers it: OpenAI's error body, Retry-After and the rate-limit headers. */
function refusal({
  code = 'rate_limit_exceeded',
  type = 'requests',
  param,
  message = 'Rate limit reached',
  retryAfter = 12 as number | null,
  headers = {},
}: {
  code?: string
  type?: string
  param: string | null
  message?: string
  retryAfter?: number | null
  headers?: Record<string, string>
}) {
  return new ApiError(429, code, message, 'req_429', retryAfter, { type, param, headers: new Headers(headers) })
}

const requestHeaders = {
  'x-ratelimit-limit-requests': '5',
  'x-ratelimit-remaining-requests': '0',
  'x-ratelimit-reset-requests': '42s',
  'x-ratelimit-limit-tokens': '20000',
  'x-ratelimit-remaining-tokens': '150',
  'x-ratelimit-reset-tokens': '1m30s',
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] })
  vi.setSystemTime(NOW)
})

afterEach(() => {
  vi.useRealTimers()
})

describe('a 429 from the gateway, explained', () => {
  it('names the requests-per-minute limit with its cap from the headers, and when to retry', () => {
    const error = refusal({ param: 'rpm', message: 'Rate limit of 5 requests per minute reached for this gateway', headers: requestHeaders })
    expect(explainLimitError(error, undefined, NOW)).toEqual({
      limit: 'rpm',
      title: 'Rate limit reached',
      summary: 'This gateway’s limit of 5 requests per minute was reached.',
      message: 'Rate limit of 5 requests per minute reached for this gateway',
      window: '0 of 5 requests left in the current minute.',
      retry: 'Try again in 12 seconds.',
    })
  })

  it('says “1 request” for a limit of one', () => {
    const error = refusal({ param: 'rpm', headers: { ...requestHeaders, 'x-ratelimit-limit-requests': '1' } })
    expect(explainLimitError(error, undefined, NOW)?.summary).toBe('This gateway’s limit of 1 request per minute was reached.')
  })

  it('names the tokens-per-minute limit', () => {
    const error = refusal({ type: 'tokens', param: 'tpm', retryAfter: 90, headers: requestHeaders })
    expect(explainLimitError(error, undefined, NOW)).toMatchObject({
      limit: 'tpm',
      title: 'Rate limit reached',
      summary: 'This gateway’s limit of 20,000 tokens per minute was reached.',
      window: '150 of 20,000 tokens left in the current minute.',
    })
    // The clock time is the viewer's.
    expect(explainLimitError(error, undefined, NOW)?.retry).toMatch(/^Try again in 2 minutes \(at \d\d:\d\d\)\.$/)
  })

  it('names the concurrency limit, its cap from the gateway’s saved limits', () => {
    const error = refusal({ param: 'max_concurrent', retryAfter: 1 })
    expect(explainLimitError(error, limits, NOW)).toMatchObject({
      limit: 'max_concurrent',
      title: 'Rate limit reached',
      summary: 'This gateway’s limit of 2 concurrent requests was reached.',
      window: null,
      retry: 'Try again in 1 second.',
    })
  })

  it('says the daily budget is spent, in dollars', () => {
    const error = refusal({ code: 'insufficient_quota', type: 'insufficient_quota', param: 'daily_budget_usd', retryAfter: 7200 })
    expect(explainLimitError(error, limits, NOW)).toMatchObject({
      limit: 'daily_budget_usd',
      title: 'Budget spent',
      summary: 'The daily budget of $5.00 is spent.',
      window: null,
    })
    expect(explainLimitError(error, limits, NOW)?.retry).toMatch(/^Try again at Mar 10, \d\d:00:00\.$/)
  })

  it('says the monthly budget is spent, in dollars', () => {
    const error = refusal({ code: 'insufficient_quota', type: 'insufficient_quota', param: 'monthly_budget_usd', retryAfter: null })
    expect(explainLimitError(error, limits, NOW)).toMatchObject({
      limit: 'monthly_budget_usd',
      title: 'Budget spent',
      summary: 'The monthly budget of $120.00 is spent.',
      retry: 'Try again next month, or raise the monthly budget.',
    })
  })

  it('takes the cap from the saved limits when the headers lack it, and does without either', () => {
    expect(explainLimitError(refusal({ param: 'rpm' }), limits, NOW)?.summary).toBe(
      'This gateway’s limit of 5 requests per minute was reached.',
    )
    expect(explainLimitError(refusal({ param: 'rpm' }), undefined, NOW)).toMatchObject({
      summary: 'This gateway’s requests-per-minute limit was reached.',
      window: null,
    })
    expect(explainLimitError(refusal({ param: 'daily_budget_usd', code: 'insufficient_quota' }), undefined, NOW)?.summary).toBe(
      'The daily budget is spent.',
    )
    expect(explainLimitError(refusal({ param: 'max_concurrent', retryAfter: null }), undefined, NOW)).toMatchObject({
      summary: 'This gateway’s limit on concurrent requests was reached.',
      retry: 'Try again once a call in flight has finished.',
    })
  })

  it('falls back to the window’s reset for when to retry without a Retry-After', () => {
    const error = refusal({ param: 'rpm', retryAfter: null, headers: requestHeaders })
    expect(explainLimitError(error, undefined, NOW)?.retry).toBe('Try again in 42 seconds.')
  })

  it('counts the wait from when the answer arrived', () => {
    const error = refusal({ param: 'rpm', retryAfter: 30 })
    vi.setSystemTime(NOW.getTime() + 20_000)
    expect(explainLimitError(error, limits, new Date())?.retry).toBe('Try again in 10 seconds.')
  })

  it('explains a 429 that names none of the gateway’s limits (a provider’s) without claiming one', () => {
    expect(explainLimitError(refusal({ param: null, message: 'Rate limit reached for gpt-4o' }), limits, NOW)).toEqual({
      limit: null,
      title: 'Too many requests',
      summary: 'The call was refused for now: too many requests.',
      message: 'Rate limit reached for gpt-4o',
      window: null,
      retry: 'Try again in 12 seconds.',
    })
    expect(explainLimitError(refusal({ param: 'model', code: 'insufficient_quota' }), limits, NOW)?.summary).toBe(
      'The quota behind this call is used up.',
    )
  })

  it('leaves every other error alone', () => {
    expect(explainLimitError(new ApiError(401, 'invalid_api_key', 'no'), limits, NOW)).toBeNull()
    expect(explainLimitError(new ApiError(502, 'upstream_error', 'down'), limits, NOW)).toBeNull()
    expect(explainLimitError(new DOMException('stopped', 'AbortError'), limits, NOW)).toBeNull()
    expect(explainLimitError(new Error('offline'), limits, NOW)).toBeNull()
  })
})

describe('the rate-limit headers', () => {
  it('reads both windows, null where a header is missing or unreadable', () => {
    expect(readRateLimitHeaders(new Headers(requestHeaders))).toEqual({
      requests: { limit: 5, remaining: 0, resetSeconds: 42 },
      tokens: { limit: 20000, remaining: 150, resetSeconds: 90 },
    })
    expect(readRateLimitHeaders(new Headers({ 'x-ratelimit-limit-requests': 'many' }))).toEqual({
      requests: { limit: null, remaining: null, resetSeconds: null },
      tokens: { limit: null, remaining: null, resetSeconds: null },
    })
    expect(readRateLimitHeaders(null).requests.limit).toBeNull()
  })

  it('reads reset durations as OpenAI writes them, or bare seconds', () => {
    expect(parseResetDuration('1s')).toBe(1)
    expect(parseResetDuration('6m0s')).toBe(360)
    expect(parseResetDuration('1h2m3.5s')).toBe(3723.5)
    expect(parseResetDuration('250ms')).toBe(0.25)
    expect(parseResetDuration('17')).toBe(17)
    expect(parseResetDuration('soon')).toBeNull()
    expect(parseResetDuration('')).toBeNull()
    expect(parseResetDuration(null)).toBeNull()
  })
})
