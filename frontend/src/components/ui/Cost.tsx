import type { ReactNode } from 'react'
import { formatInteger, formatUsd } from '@/lib/format'
import { cn } from './cn'

// An unknown price is never shown as free: a call whose model has no price
// reads "—", with the reason as its tooltip and as text for screen readers.

/** Why one call (or one model) has no cost. */
export const UNPRICED_EXPLANATION =
  'Unpriced: this model has no price in the catalog; set PRICING_FILE on the server to price it'

/** Why a total leaves some calls out. */
export const UNPRICED_CALLS_EXPLANATION =
  'Unpriced calls use a model with no price in the catalog, so their cost is unknown and not counted; set PRICING_FILE on the server to price them'

/** "—" in place of an unknown cost. */
export function Unpriced({ className, explanation = UNPRICED_EXPLANATION }: { className?: string; explanation?: string }) {
  return (
    <span title={explanation} className={cn('cursor-help text-faint', className)} data-testid="unpriced">
      <span aria-hidden="true">—</span>
      <span className="sr-only">{explanation}</span>
    </span>
  )
}

/** True when a call's cost is known (a number, and not marked unpriced). */
export function isPriced(call: { priced?: boolean; cost: number | null | undefined }): call is { priced?: true; cost: number } {
  return call.priced !== false && call.cost !== null && call.cost !== undefined
}

/** One call's cost: its USD amount, or "—" when its model has no price. */
export function CallCost({ priced, cost }: { priced?: boolean; cost: number | null | undefined }) {
  return isPriced({ priced, cost }) ? <>{formatUsd(cost)}</> : <Unpriced />
}

/** "1 unpriced call", "3 unpriced calls". */
export function unpricedCalls(count: number): string {
  return `${formatInteger(count)} unpriced ${count === 1 ? 'call' : 'calls'}`
}

/**
 * The cost of `requests` calls of which `unpriced` have no price: "—" when
 * none of them is priced (the total would only be a misleading $0.00).
 */
export function TotalCost({ cost, requests, unpriced }: { cost: number; requests: number; unpriced: number }) {
  if (requests > 0 && unpriced >= requests) return <Unpriced explanation={UNPRICED_CALLS_EXPLANATION} />
  return <>{formatUsd(cost)}</>
}

/** "Excludes 3 unpriced calls", with the reason as its tooltip and accessible text. */
export function UnpricedNote({
  count,
  children,
  className,
}: {
  count: number
  /** The visible wording; "Excludes N unpriced calls" by default. */
  children?: ReactNode
  className?: string
}) {
  return (
    <span title={UNPRICED_CALLS_EXPLANATION} className={cn('cursor-help', className)} data-testid="unpriced-note">
      {children ?? `Excludes ${unpricedCalls(count)}`}
      <span className="sr-only">{` (${UNPRICED_CALLS_EXPLANATION})`}</span>
    </span>
  )
}
