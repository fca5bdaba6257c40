// Time ranges of the analytics and logs pages, and the query parameters each
// one becomes. Days are UTC days, as the backend buckets them.

export type RangePreset = '24h' | '7d' | '30d' | '90d'

export type TimeRange =
  | { kind: 'preset'; preset: RangePreset }
  | { kind: 'custom'; from: string; to: string }

export const RANGE_PRESETS: { value: RangePreset; label: string; short: string; days: number }[] = [
  { value: '24h', label: '24 h', short: '24h', days: 1 },
  { value: '7d', label: '7 days', short: '7d', days: 7 },
  { value: '30d', label: '30 days', short: '30d', days: 30 },
  { value: '90d', label: '90 days', short: '90d', days: 90 },
]

export const DEFAULT_RANGE: TimeRange = { kind: 'preset', preset: '7d' }

const DAY_MS = 24 * 60 * 60 * 1000
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/

/** YYYY-MM-DD of the UTC day containing `date`. */
export function utcDay(date: Date): string {
  return date.toISOString().slice(0, 10)
}

/** An RFC3339 instant without milliseconds. */
function instant(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

export function isValidDay(value: string): boolean {
  if (!DATE_RE.test(value)) return false
  const date = new Date(`${value}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && utcDay(date) === value
}

/** Why a custom range cannot be used, or null when it can. */
export function customRangeError(from: string, to: string): string | null {
  if (!from || !to) return 'Pick both dates'
  if (!isValidDay(from) || !isValidDay(to)) return 'Dates must look like YYYY-MM-DD'
  if (from > to) return 'The start date is after the end date'
  return null
}

/**
 * Query parameters of GET /analytics for a range: `days=N` for the day
 * presets, RFC3339 `from`/`to` instants for the last 24 hours, and inclusive
 * `from`/`to` days for a custom range.
 */
export function analyticsRangeParams(range: TimeRange, now: Date = new Date()): Record<string, string> {
  if (range.kind === 'custom') return { from: range.from, to: range.to }
  if (range.preset === '24h') {
    return { from: instant(new Date(now.getTime() - DAY_MS)), to: instant(now) }
  }
  const days = RANGE_PRESETS.find((p) => p.value === range.preset)?.days ?? 7
  return { days: String(days) }
}

/**
 * Query parameters of GET /logs (and its export) for a range; null means all
 * time. Presets become a `from` instant, custom ranges inclusive days.
 */
export function logsRangeParams(range: TimeRange | null, now: Date = new Date()): Record<string, string> {
  if (!range) return {}
  if (range.kind === 'custom') return { from: range.from, to: range.to }
  const days = RANGE_PRESETS.find((p) => p.value === range.preset)?.days ?? 1
  return { from: instant(new Date(now.getTime() - days * DAY_MS)) }
}

/** Reads a range from URL search params (`range=7d`, or `from`+`to`). */
export function rangeFromSearch(search: URLSearchParams, fallback: TimeRange | null = DEFAULT_RANGE): TimeRange | null {
  const from = search.get('from')
  const to = search.get('to')
  if (search.get('range') === 'custom' && from && to && !customRangeError(from, to)) {
    return { kind: 'custom', from, to }
  }
  const preset = search.get('range')
  if (preset && RANGE_PRESETS.some((p) => p.value === preset)) {
    return { kind: 'preset', preset: preset as RangePreset }
  }
  return fallback
}

/** Writes a range into URL search params, keeping the other params. */
export function rangeToSearch(range: TimeRange | null, search: URLSearchParams): URLSearchParams {
  const next = new URLSearchParams(search)
  next.delete('range')
  next.delete('from')
  next.delete('to')
  if (!range) {
    next.set('range', 'all')
  } else if (range.kind === 'custom') {
    next.set('range', 'custom')
    next.set('from', range.from)
    next.set('to', range.to)
  } else {
    next.set('range', range.preset)
  }
  return next
}

/** Human label: "Last 7 days", "Mar 1 – Mar 9". */
export function rangeLabel(range: TimeRange | null): string {
  if (!range) return 'All time'
  if (range.kind === 'custom') return `${range.from} → ${range.to}`
  if (range.preset === '24h') return 'Last 24 hours'
  const days = RANGE_PRESETS.find((p) => p.value === range.preset)?.days
  return `Last ${days} days`
}

/** A stable key for caching. */
export function rangeKey(range: TimeRange | null): string {
  if (!range) return 'all'
  return range.kind === 'custom' ? `${range.from}..${range.to}` : range.preset
}

/** Inverse of rangeKey. */
export function rangeFromKey(key: string): TimeRange | null {
  if (key === 'all') return null
  const custom = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(key)
  if (custom) return { kind: 'custom', from: custom[1], to: custom[2] }
  if (RANGE_PRESETS.some((p) => p.value === key)) return { kind: 'preset', preset: key as RangePreset }
  return null
}
