// The five limits of a gateway: how each is named, typed into the form, read
// back from it and compared with what is saved.

import type { LimitName, Limits, LimitsPatch, LimitsUsage } from '@/api/types'
import { formatInteger, formatUsd } from '@/lib/format'

export type LimitKind = 'count' | 'usd'

export interface LimitSpec {
  name: LimitName
  kind: LimitKind
  /** The form field's label. */
  label: string
  /** What the gateway has used of it, in `usage`. */
  usage: keyof LimitsUsage
  usageLabel: string
}

export const LIMIT_SPECS: LimitSpec[] = [
  { name: 'rpm', kind: 'count', label: 'Requests per minute', usage: 'requests_this_minute', usageLabel: 'Requests this minute' },
  { name: 'tpm', kind: 'count', label: 'Tokens per minute', usage: 'tokens_this_minute', usageLabel: 'Tokens this minute' },
  { name: 'max_concurrent', kind: 'count', label: 'Concurrent requests', usage: 'concurrent', usageLabel: 'Requests in flight' },
  { name: 'daily_budget_usd', kind: 'usd', label: 'Daily budget', usage: 'spend_today_usd', usageLabel: 'Spent today' },
  { name: 'monthly_budget_usd', kind: 'usd', label: 'Monthly budget', usage: 'spend_this_month_usd', usageLabel: 'Spent this month' },
]

export const LIMIT_NAMES: LimitName[] = LIMIT_SPECS.map((spec) => spec.name)

export function isLimitName(value: unknown): value is LimitName {
  return typeof value === 'string' && (LIMIT_NAMES as string[]).includes(value)
}

function plural(n: number, one: string, many: string): string {
  return n === 1 ? one : many
}

/** A limit's value in words: "1 request per minute", "$5.00 a day". */
export function describeLimit(name: LimitName, value: number): string {
  switch (name) {
    case 'rpm':
      return `${formatInteger(value)} ${plural(value, 'request', 'requests')} per minute`
    case 'tpm':
      return `${formatInteger(value)} ${plural(value, 'token', 'tokens')} per minute`
    case 'max_concurrent':
      return `${formatInteger(value)} concurrent ${plural(value, 'request', 'requests')}`
    case 'daily_budget_usd':
      return `${formatUsd(value)} a day`
    case 'monthly_budget_usd':
      return `${formatUsd(value)} a month`
  }
}

/** A number of a limit's kind, as shown next to its use: "12,345", "$5.00". */
export function formatLimitValue(kind: LimitKind, value: number): string {
  return kind === 'usd' ? formatUsd(value) : formatInteger(value)
}

/** What the form field shows for a saved value: '' for no limit, cents for dollars. */
export function limitText(kind: LimitKind, value: number | null): string {
  if (value === null) return ''
  if (kind === 'usd' && Number.isInteger(Math.round(value * 100 * 1e6) / 1e6)) return value.toFixed(2)
  return String(value)
}

export type Drafts = Record<LimitName, string>

export function toDrafts(limits: Limits): Drafts {
  return Object.fromEntries(
    LIMIT_SPECS.map((spec) => [spec.name, limitText(spec.kind, limits[spec.name])]),
  ) as Drafts
}

/** A field's text read as a limit: null for empty (no limit), or why it is not one. */
export function parseLimit(kind: LimitKind, text: string): { value: number | null } | { error: string } {
  const trimmed = text.trim()
  if (!trimmed) return { value: null }
  if (kind === 'count') {
    const digits = trimmed.replace(/[,_\s]/g, '')
    const value = Number(digits)
    if (!/^\d+$/.test(digits) || value < 1 || !Number.isSafeInteger(value)) {
      return { error: 'A whole number of at least 1, or empty for no limit.' }
    }
    return { value }
  }
  const dollars = trimmed.replace(/^\$\s*/, '').replace(/,/g, '')
  const value = Number(dollars)
  if (!/^(\d+(\.\d{0,2})?|\.\d{1,2})$/.test(dollars) || !(value > 0) || !Number.isFinite(value)) {
    return { error: 'Dollars and cents above zero, such as 25 or 12.50; empty for no budget.' }
  }
  return { value }
}

export interface ReadDrafts {
  /** The limits that differ from the saved ones; null where a field was cleared. */
  patch: LimitsPatch
  /** Why a changed field cannot be saved, per field. */
  errors: Partial<Record<LimitName, string>>
}

/**
 * Compares the form with the saved limits. Fields left as shown are not read
 * (so a saved value the form could not have produced is kept as it is).
 */
export function readDrafts(drafts: Drafts, saved: Limits, ceilings: Limits | undefined): ReadDrafts {
  const patch: LimitsPatch = {}
  const errors: Partial<Record<LimitName, string>> = {}
  for (const spec of LIMIT_SPECS) {
    const text = drafts[spec.name]
    if (text.trim() === limitText(spec.kind, saved[spec.name])) continue
    const parsed = parseLimit(spec.kind, text)
    if ('error' in parsed) {
      errors[spec.name] = parsed.error
      continue
    }
    const ceiling = ceilings?.[spec.name] ?? null
    if (parsed.value !== null && ceiling !== null && parsed.value > ceiling) {
      errors[spec.name] = `At most ${formatLimitValue(spec.kind, ceiling)}: the operator’s ceiling.`
      continue
    }
    if (parsed.value !== saved[spec.name]) patch[spec.name] = parsed.value
  }
  return { patch, errors }
}
