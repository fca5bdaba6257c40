import { describe, expect, it } from 'vitest'
import type { LogEntry } from '@/api/types'
import { answeredByFallback, costParts, qualifiedModel } from './attempts'

const failedOnce = [{ provider: 'openai', model: 'gpt-4o', error: '429' }]

function call(model: string, provider: string, upstream: string, failed = failedOnce): LogEntry {
  return { model, provider, upstream_model: upstream, failed_attempts: failed } as LogEntry
}

describe('qualifiedModel', () => {
  it('prefixes the provider once', () => {
    expect(qualifiedModel('openai', 'gpt-4o')).toBe('openai/gpt-4o')
    expect(qualifiedModel('mock', 'mock/echo')).toBe('mock/echo')
    expect(qualifiedModel(null, 'gpt-4o')).toBe('gpt-4o')
  })
})

describe('answeredByFallback', () => {
  it('is true when another model answered after the asked one failed', () => {
    expect(answeredByFallback(call('gpt-4o', 'anthropic', 'claude-sonnet-4-5'))).toBe(true)
    expect(answeredByFallback(call('openai/gpt-4o', 'groq', 'llama-3.3-70b-versatile'))).toBe(true)
  })

  it('is false when the asked model answered, however it was written', () => {
    expect(answeredByFallback(call('gpt-4o', 'openai', 'gpt-4o'))).toBe(false)
    expect(answeredByFallback(call('openai/gpt-4o', 'openai', 'gpt-4o'))).toBe(false)
  })

  it('is false when the answer is the model of the first attempt, under a provider id of its own', () => {
    const first = [{ provider: 'anthropic', model: 'claude-sonnet-4-5-20250929', error: '529' }]
    expect(answeredByFallback(call('anthropic/claude-sonnet-4-5', 'anthropic', 'claude-sonnet-4-5-20250929', first))).toBe(false)
  })

  it('is false when the first attempt answered, or the row predates fallbacks', () => {
    expect(answeredByFallback(call('gpt-4o', 'anthropic', 'claude-sonnet-4-5', []))).toBe(false)
    expect(answeredByFallback({ model: 'gpt-4o', provider: 'anthropic', upstream_model: 'claude-sonnet-4-5' } as LogEntry)).toBe(false)
  })
})

describe('costParts', () => {
  it('keeps the parts that are not zero, in reading order', () => {
    expect(costParts({ input: 0.001, cached_input: 0, cache_write: 0.002, output: 0.003 })).toEqual([
      { label: 'Input', usd: 0.001 },
      { label: 'Cache write', usd: 0.002 },
      { label: 'Output', usd: 0.003 },
    ])
    expect(costParts(null)).toEqual([])
    expect(costParts(undefined)).toEqual([])
  })
})
