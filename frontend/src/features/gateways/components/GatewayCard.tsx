import { ArrowUpRight, KeyRound } from 'lucide-react'
import { Link } from 'react-router'
import type { Gateway } from '@/api/types'
import { TotalCost, unpricedCalls, UNPRICED_CALLS_EXPLANATION } from '@/components/ui/Cost'
import { MiniBars } from '@/components/ui/MiniBars'
import { Skeleton } from '@/components/ui/Skeleton'
import { useAnalytics } from '@/features/analytics/hooks'
import { formatCompact, formatDate, formatRelative } from '@/lib/format'

const LAST_7_DAYS = { kind: 'preset', preset: '7d' } as const

export function GatewayCard({ gateway }: { gateway: Gateway }) {
  const { data, isPending } = useAnalytics(gateway.id, LAST_7_DAYS)
  const summary = data?.summary
  return (
    <Link
      to={`/g/${gateway.id}`}
      className="group flex h-full flex-col rounded-xl border border-border bg-surface p-4 shadow-xs transition-all hover:border-border-strong hover:shadow-sm"
    >
      <div className="flex items-start justify-between gap-3">
        <div className="flex min-w-0 items-center gap-2.5">
          <span
            aria-hidden
            className="flex size-8 shrink-0 items-center justify-center rounded-lg bg-accent-soft text-[13px] font-semibold text-accent uppercase"
          >
            {gateway.name.slice(0, 1)}
          </span>
          <div className="min-w-0">
            <h2 className="truncate text-[15px] font-semibold text-fg">{gateway.name}</h2>
            <p className="flex items-center gap-1 font-mono text-xs text-muted">
              <KeyRound className="size-3 text-faint" aria-hidden />
              {gateway.secret_hint}
            </p>
          </div>
        </div>
        <ArrowUpRight className="size-4 shrink-0 text-faint transition-colors group-hover:text-fg" aria-hidden />
      </div>

      <div className="mt-4 grid grid-cols-[1fr_auto] items-end gap-3">
        {isPending ? (
          <Skeleton className="h-9 w-40" />
        ) : summary ? (
          <dl className="flex gap-5 text-xs">
            <div>
              <dt className="text-muted">Requests</dt>
              <dd className="mt-0.5 text-sm font-semibold text-fg tabular">{formatCompact(summary.total_requests)}</dd>
            </div>
            <div>
              <dt className="text-muted">Cost</dt>
              <dd
                className="mt-0.5 text-sm font-semibold text-fg tabular"
                title={
                  summary.unpriced_requests > 0 && summary.unpriced_requests < summary.total_requests
                    ? `Excludes ${unpricedCalls(summary.unpriced_requests)}. ${UNPRICED_CALLS_EXPLANATION}`
                    : undefined
                }
              >
                <TotalCost
                  cost={summary.total_cost}
                  requests={summary.total_requests}
                  unpriced={summary.unpriced_requests ?? 0}
                />
              </dd>
            </div>
            <div>
              <dt className="text-muted">Errors</dt>
              <dd className={`mt-0.5 text-sm font-semibold tabular ${summary.error_count > 0 ? 'text-danger' : 'text-fg'}`}>
                {formatCompact(summary.error_count)}
              </dd>
            </div>
          </dl>
        ) : (
          <span />
        )}
        {data && <MiniBars values={data.daily_stats.map((d) => d.requests)} className="w-20" />}
      </div>

      <p className="mt-auto flex justify-between gap-2 pt-3 text-xs text-faint">
        <span>Last 7 days</span>
        <span title={formatDate(gateway.created_at)}>Created {formatRelative(gateway.created_at)}</span>
      </p>
    </Link>
  )
}
