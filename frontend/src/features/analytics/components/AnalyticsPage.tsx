import { RefreshCw } from 'lucide-react'
import { useParams, useSearchParams } from 'react-router'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Button } from '@/components/ui/Button'
import { UnpricedNote } from '@/components/ui/Cost'
import { Skeleton } from '@/components/ui/Skeleton'
import { formatDay } from '@/lib/format'
import { DEFAULT_RANGE, rangeFromSearch, rangeLabel, rangeToSearch } from '@/lib/range'
import { useAnalytics } from '../hooks'
import {
  ChartCard,
  CostChart,
  LatencyChart,
  ModelBreakdown,
  RequestsChart,
  TokensChart,
  requestsLegend,
  tokensLegend,
} from './Charts'
import { ModelSelect } from './ModelSelect'
import { NoCallsYet } from './NoCallsYet'
import { RangePicker } from './RangePicker'
import { SummaryCards } from './SummaryCards'

export function AnalyticsPage() {
  const { gatewayId = '' } = useParams()
  const [search, setSearch] = useSearchParams()
  const range = rangeFromSearch(search) ?? DEFAULT_RANGE
  const model = search.get('model') ?? ''
  const query = useAnalytics(gatewayId, range, model || undefined)
  const unfiltered = useAnalytics(gatewayId, range)
  const data = query.data

  const setModel = (next: string) =>
    setSearch(
      (current) => {
        const params = new URLSearchParams(current)
        if (next) params.set('model', next)
        else params.delete('model')
        return params
      },
      { replace: true },
    )

  const period = data ? `${formatDay(data.date_range.start_date)} – ${formatDay(data.date_range.end_date)}` : null

  return (
    <div className="flex flex-col gap-5">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div>
          <h2 className="text-lg font-semibold tracking-tight text-fg">Analytics</h2>
          <p className="text-[13px] text-muted">
            {rangeLabel(range)}
            {period && ` · ${period} (UTC)`}
          </p>
        </div>
        <div className="flex flex-wrap items-center gap-2">
          <RangePicker value={range} onChange={(next) => setSearch(rangeToSearch(next, search), { replace: true })} />
          <ModelSelect
            id="analytics-model"
            value={model}
            models={Object.keys(unfiltered.data?.model_breakdown ?? {})}
            onChange={setModel}
          />
          <Button
            size="icon-sm"
            variant="ghost"
            aria-label="Refresh analytics"
            onClick={() => query.refetch()}
            disabled={query.isFetching}
          >
            <RefreshCw className={query.isFetching ? 'animate-spin' : undefined} />
          </Button>
        </div>
      </div>

      {query.isError && (
        <Alert title="Could not load analytics">{errorMessage(query.error)}</Alert>
      )}

      <SummaryCards summary={data?.summary} loading={query.isPending} />

      {query.isPending ? (
        <div className="grid gap-4 lg:grid-cols-2">
          <Skeleton className="h-72 rounded-xl lg:col-span-2" />
          <Skeleton className="h-72 rounded-xl" />
          <Skeleton className="h-72 rounded-xl" />
        </div>
      ) : data && data.summary.total_requests === 0 ? (
        <NoCallsYet gatewayId={gatewayId} inRange={rangeLabel(range)} />
      ) : data ? (
        <div className="grid gap-4 lg:grid-cols-2" data-testid="analytics-charts">
          <ChartCard
            title="Requests per day"
            description="Succeeded and failed calls, by UTC day."
            actions={requestsLegend}
            className="lg:col-span-2"
            testId="chart-requests"
          >
            <RequestsChart daily={data.daily_stats} />
          </ChartCard>
          <ChartCard
            title="Cost per day"
            description={
              data.summary.unpriced_requests > 0 ? (
                <>
                  USD, from the catalog’s prices. <UnpricedNote count={data.summary.unpriced_requests} />.
                </>
              ) : (
                'USD, from the catalog’s prices.'
              )
            }
            testId="chart-cost"
          >
            <CostChart daily={data.daily_stats} />
          </ChartCard>
          <ChartCard title="Tokens per day" actions={tokensLegend} testId="chart-tokens">
            <TokensChart daily={data.daily_stats} />
          </ChartCard>
          <ModelBreakdown breakdown={data.model_breakdown} />
          <LatencyChart summary={data.summary} />
        </div>
      ) : null}
    </div>
  )
}
