import { describe, expect, it } from 'vitest'
import {
  analyticsRangeParams,
  customRangeError,
  logsRangeParams,
  rangeFromKey,
  rangeFromSearch,
  rangeKey,
  rangeLabel,
  rangeToSearch,
  type TimeRange,
} from './range'

const now = new Date('2025-03-10T15:30:45.123Z')

describe('analyticsRangeParams', () => {
  it('sends days for the day presets', () => {
    expect(analyticsRangeParams({ kind: 'preset', preset: '7d' }, now)).toEqual({ days: '7' })
    expect(analyticsRangeParams({ kind: 'preset', preset: '30d' }, now)).toEqual({ days: '30' })
    expect(analyticsRangeParams({ kind: 'preset', preset: '90d' }, now)).toEqual({ days: '90' })
  })

  it('sends RFC3339 instants for the last 24 hours', () => {
    expect(analyticsRangeParams({ kind: 'preset', preset: '24h' }, now)).toEqual({
      from: '2025-03-09T15:30:45Z',
      to: '2025-03-10T15:30:45Z',
    })
  })

  it('sends inclusive days for a custom range', () => {
    expect(analyticsRangeParams({ kind: 'custom', from: '2025-02-01', to: '2025-02-28' }, now)).toEqual({
      from: '2025-02-01',
      to: '2025-02-28',
    })
  })
})

describe('logsRangeParams', () => {
  it('sends nothing for all time', () => {
    expect(logsRangeParams(null, now)).toEqual({})
  })

  it('anchors presets to a from instant', () => {
    expect(logsRangeParams({ kind: 'preset', preset: '24h' }, now)).toEqual({ from: '2025-03-09T15:30:45Z' })
    expect(logsRangeParams({ kind: 'preset', preset: '7d' }, now)).toEqual({ from: '2025-03-03T15:30:45Z' })
  })

  it('passes custom days through', () => {
    expect(logsRangeParams({ kind: 'custom', from: '2025-03-01', to: '2025-03-02' }, now)).toEqual({
      from: '2025-03-01',
      to: '2025-03-02',
    })
  })
})

describe('custom range validation', () => {
  it('accepts a valid range and rejects bad ones', () => {
    expect(customRangeError('2025-03-01', '2025-03-01')).toBeNull()
    expect(customRangeError('', '2025-03-01')).toBe('Pick both dates')
    expect(customRangeError('2025-02-30', '2025-03-01')).toMatch(/YYYY-MM-DD/)
    expect(customRangeError('2025-03-02', '2025-03-01')).toMatch(/after/)
  })
})

describe('URL round trip', () => {
  const cases: (TimeRange | null)[] = [
    { kind: 'preset', preset: '24h' },
    { kind: 'preset', preset: '90d' },
    { kind: 'custom', from: '2025-01-01', to: '2025-01-31' },
    null,
  ]

  it.each(cases)('keeps %o through search params and keys', (range) => {
    const search = rangeToSearch(range, new URLSearchParams('status=error'))
    expect(search.get('status')).toBe('error')
    expect(rangeFromSearch(search, null)).toEqual(range)
    expect(rangeFromKey(rangeKey(range))).toEqual(range)
  })

  it('falls back on unknown or invalid values', () => {
    const fallback: TimeRange = { kind: 'preset', preset: '7d' }
    expect(rangeFromSearch(new URLSearchParams('range=5y'), fallback)).toEqual(fallback)
    expect(rangeFromSearch(new URLSearchParams('range=custom&from=2025-03-05&to=2025-03-01'), fallback)).toEqual(fallback)
  })

  it('labels ranges', () => {
    expect(rangeLabel(null)).toBe('All time')
    expect(rangeLabel({ kind: 'preset', preset: '24h' })).toBe('Last 24 hours')
    expect(rangeLabel({ kind: 'preset', preset: '30d' })).toBe('Last 30 days')
  })
})
