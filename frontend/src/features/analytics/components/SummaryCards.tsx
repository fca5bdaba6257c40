import { AlertTriangle, Coins, Gauge, Hash, Layers, Timer } from 'lucide-react'
import type { AnalyticsSummary } from '@/api/types'
import { TotalCost, UnpricedNote } from '@/components/ui/Cost'
import { StatCard } from '@/components/ui/StatCard'
import { formatCompact, formatInteger, formatLatency, formatPercent, formatUsd } from '@/lib/format'

/** Per priced call, or which calls the total leaves out. */
function costDetail(s: AnalyticsSummary) {
  const unpriced = s.unpriced_requests ?? 0
  // May wrap to a second line rather than lose the count to an ellipsis.
  if (unpriced > 0) return <UnpricedNote count={unpriced} className="whitespace-normal" />
  return s.total_requests > 0 ? `${formatUsd(s.total_cost / s.total_requests)} per call` : undefined
}

export function SummaryCards({ summary, loading }: { summary?: AnalyticsSummary; loading?: boolean }) {
  const s = summary
  return (
    <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
      <StatCard label="Requests" icon={<Hash />} loading={loading} value={formatInteger(s?.total_requests)} detail={s ? `${formatInteger(s.total_requests - s.error_count)} succeeded` : undefined} />
      <StatCard label="Cost" icon={<Coins />} loading={loading} value={s ? <TotalCost cost={s.total_cost} requests={s.total_requests} unpriced={s.unpriced_requests ?? 0} /> : formatUsd(undefined)} detail={s ? costDetail(s) : undefined} />
      <StatCard label="Tokens" icon={<Layers />} loading={loading} value={formatCompact(s?.total_tokens)} detail={s ? `${formatCompact(s.tokens_in)} in · ${formatCompact(s.tokens_out)} out` : undefined} />
      <StatCard
        label="Error rate"
        icon={<AlertTriangle />}
        loading={loading}
        tone={s && s.error_count > 0 ? 'danger' : undefined}
        value={s && s.total_requests > 0 ? formatPercent(s.error_rate) : '—'}
        detail={s ? `${formatInteger(s.error_count)} ${s.error_count === 1 ? 'error' : 'errors'}` : undefined}
      />
      <StatCard label="p50 latency" icon={<Timer />} loading={loading} value={formatLatency(s?.p50_latency_ms)} detail={s?.avg_latency_ms != null ? `avg ${formatLatency(s.avg_latency_ms)}` : undefined} />
      <StatCard label="p95 latency" icon={<Gauge />} loading={loading} value={formatLatency(s?.p95_latency_ms)} detail={s?.avg_ttft_ms != null ? `TTFT avg ${formatLatency(s.avg_ttft_ms)}` : s?.p99_latency_ms != null ? `p99 ${formatLatency(s.p99_latency_ms)}` : undefined} />
    </div>
  )
}
