import { describe, expect, it } from 'vitest'
import { formatCompact, formatDay, formatInteger, formatLatency, formatPercent, formatRelative, formatRetryAfter, formatUsd, formatUsdAxis } from './format'

describe('formatUsd', () => {
  it('keeps tiny per-call costs visible', () => {
    expect(formatUsd(0.000012)).toBe('$0.000012')
    expect(formatUsd(0.0000123456)).toBe('$0.0000123')
    expect(formatUsd(0.00000042)).toBe('$0.00000042')
    expect(formatUsd(0.0001)).toBe('$0.0001')
  })

  it('uses cents from a dollar up, with separators', () => {
    expect(formatUsd(1)).toBe('$1.00')
    expect(formatUsd(12.345)).toBe('$12.35')
    expect(formatUsd(1234567.891)).toBe('$1,234,567.89')
  })

  it('shows sub-dollar amounts with three significant digits', () => {
    expect(formatUsd(0.5)).toBe('$0.50')
    expect(formatUsd(0.1234)).toBe('$0.123')
    expect(formatUsd(0.05)).toBe('$0.05')
    expect(formatUsd(0.0123)).toBe('$0.0123')
  })

  it('handles zero, negatives, below-precision values and missing values', () => {
    expect(formatUsd(0)).toBe('$0.00')
    expect(formatUsd(-0.25)).toBe('-$0.25')
    expect(formatUsd(1e-12)).toBe('<$0.0000000001')
    expect(formatUsd(null)).toBe('—')
    expect(formatUsd(undefined)).toBe('—')
    expect(formatUsd(Number.NaN)).toBe('—')
  })

  it('never rounds a non-zero amount to $0.00', () => {
    for (const value of [0.004, 0.0049, 0.00001, 0.000000001, 0.0000000051]) {
      expect(formatUsd(value)).not.toBe('$0.00')
      expect(formatUsd(value)).not.toMatch(/^\$0\.0+$/)
    }
  })

  it('compacts axis labels', () => {
    expect(formatUsdAxis(0)).toBe('$0')
    expect(formatUsdAxis(2500)).toBe('$2.5K')
    expect(formatUsdAxis(0.0002)).toBe('$0.0002')
  })
})

describe('formatLatency', () => {
  it('formats milliseconds, seconds and minutes', () => {
    expect(formatLatency(0)).toBe('0 ms')
    expect(formatLatency(3.44)).toBe('3.4 ms')
    expect(formatLatency(840.4)).toBe('840 ms')
    expect(formatLatency(999.6)).toBe('1000 ms')
    expect(formatLatency(1240)).toBe('1.24 s')
    expect(formatLatency(12_345)).toBe('12.3 s')
    expect(formatLatency(125_000)).toBe('2m 05s')
  })

  it('shows a dash when unknown', () => {
    expect(formatLatency(null)).toBe('—')
    expect(formatLatency(undefined)).toBe('—')
    expect(formatLatency(-1)).toBe('—')
  })
})

describe('counts and rates', () => {
  it('formats integers and compact counts', () => {
    expect(formatInteger(1234567)).toBe('1,234,567')
    expect(formatCompact(9999)).toBe('9,999')
    expect(formatCompact(12_345)).toBe('12.3K')
    expect(formatCompact(4_500_000)).toBe('4.5M')
  })

  it('formats fractions as percentages', () => {
    expect(formatPercent(0)).toBe('0%')
    expect(formatPercent(1)).toBe('100%')
    expect(formatPercent(0.5)).toBe('50%')
    expect(formatPercent(0.0123)).toBe('1.23%')
    expect(formatPercent(0.00001)).toBe('<0.01%')
    expect(formatPercent(null)).toBe('—')
  })
})

describe('dates', () => {
  it('formats UTC days for axes', () => {
    expect(formatDay('2025-03-04')).toBe('Mar 4')
  })

  it('describes how long ago', () => {
    const now = new Date('2025-03-04T12:00:00Z')
    expect(formatRelative('2025-03-04T11:59:50Z', now)).toBe('just now')
    expect(formatRelative('2025-03-04T11:55:00Z', now)).toBe('5 min ago')
    expect(formatRelative('2025-03-04T09:00:00Z', now)).toBe('3 h ago')
    expect(formatRelative('2025-03-02T12:00:00Z', now)).toBe('2 d ago')
  })
})

describe('formatRetryAfter', () => {
  const now = new Date('2025-03-10T12:00:00Z')

  it('says when to try again after a refusal', () => {
    expect(formatRetryAfter(1, now)).toBe('Try again in 1 second.')
    expect(formatRetryAfter(45, now)).toBe('Try again in 45 seconds.')
    expect(formatRetryAfter(60, now)).toMatch(/^Try again in 1 minute \(at \d{2}:\d{2}\)\.$/)
    expect(formatRetryAfter(299, now)).toMatch(/^Try again in 5 minutes \(at \d{2}:\d{2}\)\.$/)
    expect(formatRetryAfter(2 * 3600, now)).toMatch(/^Try again at Mar 1[01], \d{2}:\d{2}:00\.$/)
  })

  it('falls back to plain words without a known delay', () => {
    expect(formatRetryAfter(null, now)).toBe('Wait a few minutes, then try again.')
    expect(formatRetryAfter(0, now)).toBe('You can try again now.')
  })
})
