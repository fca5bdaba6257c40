import { ApiError } from '@/api/client'
import { formatRetryAfter } from '@/lib/format'

/** A call refused because the account is flooded with sign-in attempts (429 too_many_attempts). */
export function isTooManyAttempts(error: unknown): error is ApiError {
  return error instanceof ApiError && (error.code === 'too_many_attempts' || error.status === 429)
}

/**
 * The server's message and when to try again, from its Retry-After (counted
 * from when the answer arrived, so a later render does not push it back).
 */
export function tooManyAttemptsMessage(error: ApiError, now: Date = new Date()): { message: string; retry: string } {
  const seconds = error.retryAt === null ? null : Math.ceil((error.retryAt - now.getTime()) / 1000)
  return { message: error.message, retry: formatRetryAfter(seconds, now) }
}
