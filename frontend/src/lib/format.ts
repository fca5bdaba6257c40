// Number formatting for money, latency, tokens and dates. Costs per call are
// often millionths of a dollar, so money keeps its significant digits instead
// of rounding to cents.

const integer = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 })
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 })
const dollars = new Intl.NumberFormat('en-US', {
  style: 'currency',
  currency: 'USD',
  minimumFractionDigits: 2,
  maximumFractionDigits: 2,
})

const MAX_FRACTION_DIGITS = 10

/**
 * USD amount: cents precision from $1 up, otherwise three significant digits
 * (never more than ten decimals), so $0.000012 stays $0.000012.
 */
export function formatUsd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  if (value === 0) return '$0.00'
  const sign = value < 0 ? '-' : ''
  const abs = Math.abs(value)
  if (abs >= 1) return sign + dollars.format(abs)
  const smallest = 10 ** -MAX_FRACTION_DIGITS
  if (abs < smallest) return `${sign}<$${smallest.toFixed(MAX_FRACTION_DIGITS)}`
  const leadingZeros = -Math.floor(Math.log10(abs)) - 1
  const digits = Math.min(MAX_FRACTION_DIGITS, Math.max(2, leadingZeros + 3))
  let text = abs.toFixed(digits)
  // Trim trailing zeros beyond the cents so 0.5 reads $0.50, not $0.500.
  text = text.replace(/(\.\d{2}\d*?)0+$/, '$1')
  return `${sign}$${text}`
}

/** Short money for chart axes: $0, $1.2K, $0.0012. */
export function formatUsdAxis(value: number): string {
  if (value === 0) return '$0'
  if (Math.abs(value) >= 1000) return `$${compact.format(value)}`
  return formatUsd(value)
}

/** Latency in ms: "840 ms", "3.2 ms", "1.24 s", "2m 05s"; "—" when unknown. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—'
  if (ms < 0) return '—'
  if (ms < 10) return `${Number(ms.toFixed(1))} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)} s`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`
  const totalSeconds = Math.round(ms / 1000)
  const minutes = Math.floor(totalSeconds / 60)
  const seconds = totalSeconds % 60
  return `${minutes}m ${String(seconds).padStart(2, '0')}s`
}

/** Whole count with thousands separators: 12,345. */
export function formatInteger(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  return integer.format(value)
}

/** Count for tight spots: 950, 12.3K, 4.5M. */
export function formatCompact(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  if (Math.abs(value) < 10_000) return integer.format(value)
  return compact.format(value)
}

/** Fraction 0..1 as a percentage: 0 -> "0%", 0.0123 -> "1.23%", 0.5 -> "50%". */
export function formatPercent(fraction: number | null | undefined): string {
  if (fraction === null || fraction === undefined || !Number.isFinite(fraction)) return '—'
  const percent = fraction * 100
  if (percent === 0 || percent === 100) return `${percent}%`
  if (percent < 0.01) return '<0.01%'
  if (percent < 10) return `${Number(percent.toFixed(2))}%`
  return `${Number(percent.toFixed(1))}%`
}

/** "Mar 4, 14:05:09" in the viewer's time zone. */
export function formatDateTime(iso: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return date.toLocaleString('en-US', {
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  })
}

/** "14:05:09" in the viewer's time zone. */
export function formatTime(iso: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return date.toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
}

/** "Mar 4" in the viewer's time zone. */
export function formatShortDate(iso: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return date.toLocaleDateString('en-US', { month: 'short', day: 'numeric' })
}

/** "Mar 4, 2025". */
export function formatDate(iso: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return date.toLocaleDateString('en-US', { month: 'short', day: 'numeric', year: 'numeric' })
}

/** A YYYY-MM-DD UTC day as "Mar 4" (for chart axes). */
export function formatDay(day: string): string {
  const date = new Date(`${day}T00:00:00Z`)
  if (Number.isNaN(date.getTime())) return day
  return date.toLocaleDateString('en-US', { month: 'short', day: 'numeric', timeZone: 'UTC' })
}

/** "just now", "5 min ago", "3 h ago", "2 d ago", or the date past a month. */
export function formatRelative(iso: string, now: Date = new Date()): string {
  const date = new Date(iso)
  const seconds = Math.round((now.getTime() - date.getTime()) / 1000)
  if (Number.isNaN(seconds)) return iso
  if (seconds < 45) return 'just now'
  const minutes = Math.round(seconds / 60)
  if (minutes < 60) return `${minutes} min ago`
  const hours = Math.round(minutes / 60)
  if (hours < 24) return `${hours} h ago`
  const days = Math.round(hours / 24)
  if (days < 31) return `${days} d ago`
  return formatDate(iso)
}

/** "14:05" in the viewer's time zone. */
function formatClock(date: Date): string {
  return date.toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit', hour12: false })
}

/**
 * When to try again after a refusal with Retry-After: "Try again in 45
 * seconds.", "Try again in 5 minutes (at 14:05).", "Try again at Mar 4,
 * 14:05:00."; without a known delay, "Wait a few minutes, then try again.".
 */
export function formatRetryAfter(seconds: number | null | undefined, now: Date = new Date()): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return 'Wait a few minutes, then try again.'
  }
  if (seconds <= 0) return 'You can try again now.'
  const at = new Date(now.getTime() + seconds * 1000)
  if (seconds < 60) return `Try again in ${Math.ceil(seconds)} ${Math.ceil(seconds) === 1 ? 'second' : 'seconds'}.`
  if (seconds < 3600) {
    const minutes = Math.ceil(seconds / 60)
    return `Try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'} (at ${formatClock(at)}).`
  }
  return `Try again at ${formatDateTime(at.toISOString())}.`
}
