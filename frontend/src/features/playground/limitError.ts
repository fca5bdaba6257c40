// A 429 from the gateway, in words: which of its limits was hit, when to try
// again, and what the rate-limit headers say about the current minute.

import { ApiError } from '@/api/client'
import type { LimitName, Limits } from '@/api/types'
import { describeLimit, isLimitName } from '@/features/limits/limits'
import { formatInteger, formatRetryAfter, formatUsd } from '@/lib/format'

/** One window of the `x-ratelimit-*` headers; null where a header is absent or unreadable. */
export interface RateLimitWindow {
  limit: number | null
  remaining: number | null
  /** Seconds until the window starts over. */
  resetSeconds: number | null
}

export interface RateLimitHeaders {
  requests: RateLimitWindow
  tokens: RateLimitWindow
}

/**
 * Seconds in a reset header: OpenAI's durations ("1s", "6m0s", "250ms",
 * "1h2m3.5s") or bare seconds ("12"). Null when unreadable.
 */
export function parseResetDuration(value: string | null | undefined): number | null {
  const text = value?.trim()
  if (!text) return null
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text)
  if (!/^(\d+(\.\d+)?(ms|h|m|s))+$/.test(text)) return null
  const unit: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001 }
  let seconds = 0
  for (const [, amount, , name] of text.matchAll(/(\d+(\.\d+)?)(ms|h|m|s)/g)) seconds += Number(amount) * unit[name]
  return seconds
}

function count(headers: Headers | null, name: string): number | null {
  const value = headers?.get(name)?.trim()
  return value && /^\d+$/.test(value) ? Number(value) : null
}

export function readRateLimitHeaders(headers: Headers | null): RateLimitHeaders {
  const window = (kind: 'requests' | 'tokens'): RateLimitWindow => ({
    limit: count(headers, `x-ratelimit-limit-${kind}`),
    remaining: count(headers, `x-ratelimit-remaining-${kind}`),
    resetSeconds: parseResetDuration(headers?.get(`x-ratelimit-reset-${kind}`)),
  })
  return { requests: window('requests'), tokens: window('tokens') }
}

export interface LimitExplanation {
  /** The gateway limit that was hit; null when the answer names none of them (a provider's own 429). */
  limit: LimitName | null
  title: string
  /** The refusal in words: "This gateway’s limit of 5 requests per minute was reached." */
  summary: string
  /** The server's own message. */
  message: string
  /** What is left of the minute's window, from the rate-limit headers; null without them. */
  window: string | null
  /** When to try again. */
  retry: string
}

const unnamed: Record<LimitName, string> = {
  rpm: 'This gateway’s requests-per-minute limit was reached.',
  tpm: 'This gateway’s tokens-per-minute limit was reached.',
  max_concurrent: 'This gateway’s limit on concurrent requests was reached.',
  daily_budget_usd: 'The daily budget is spent.',
  monthly_budget_usd: 'The monthly budget is spent.',
}

/** When to try again without a Retry-After, for a limit that does not free up within the minute. */
const laterWithout: Partial<Record<LimitName, string>> = {
  max_concurrent: 'Try again once a call in flight has finished.',
  daily_budget_usd: 'Try again tomorrow, or raise the daily budget.',
  monthly_budget_usd: 'Try again next month, or raise the monthly budget.',
}

function summaryOf(limit: LimitName, cap: number | null): string {
  if (cap === null) return unnamed[limit]
  if (limit === 'daily_budget_usd') return `The daily budget of ${formatUsd(cap)} is spent.`
  if (limit === 'monthly_budget_usd') return `The monthly budget of ${formatUsd(cap)} is spent.`
  return `This gateway’s limit of ${describeLimit(limit, cap)} was reached.`
}

function windowOf(window: RateLimitWindow, unit: string): string | null {
  if (window.limit === null || window.remaining === null) return null
  return `${formatInteger(window.remaining)} of ${formatInteger(window.limit)} ${unit} left in the current minute.`
}

/**
 * Explains a 429 from a chat call; null for any other error. The cap comes
 * from the rate-limit headers when they carry it, else from the gateway's
 * saved `limits` (budgets and concurrency are never in the headers).
 */
export function explainLimitError(error: unknown, limits: Limits | undefined, now: Date = new Date()): LimitExplanation | null {
  if (!(error instanceof ApiError) || error.status !== 429) return null
  const limit = isLimitName(error.param) ? error.param : null
  const headers = readRateLimitHeaders(error.headers)
  const window = limit === 'rpm' ? headers.requests : limit === 'tpm' ? headers.tokens : null

  const afterRetryAfter = error.retryAt === null ? null : Math.ceil((error.retryAt - now.getTime()) / 1000)
  const seconds = afterRetryAfter ?? window?.resetSeconds ?? null
  const retry =
    seconds === null && limit !== null && laterWithout[limit] ? laterWithout[limit] : formatRetryAfter(seconds, now)

  if (limit === null) {
    return {
      limit,
      title: 'Too many requests',
      summary:
        error.code === 'insufficient_quota'
          ? 'The quota behind this call is used up.'
          : 'The call was refused for now: too many requests.',
      message: error.message,
      window: null,
      retry,
    }
  }
  const cap = window?.limit ?? limits?.[limit] ?? null
  const budget = limit === 'daily_budget_usd' || limit === 'monthly_budget_usd'
  return {
    limit,
    title: budget ? 'Budget spent' : 'Rate limit reached',
    summary: summaryOf(limit, cap),
    message: error.message,
    window: window ? windowOf(window, limit === 'rpm' ? 'requests' : 'tokens') : null,
    retry,
  }
}
