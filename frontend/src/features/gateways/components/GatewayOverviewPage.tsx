import { ArrowRight, KeyRound } from 'lucide-react'
import { useState } from 'react'
import { Link, useParams } from 'react-router'
import type { LogEntry } from '@/api/types'
import { useOpenAiBaseUrl } from '@/app/api'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Card, CardBody, CardHeader } from '@/components/ui/Card'
import { CodeTabs } from '@/components/ui/CodeTabs'
import { CopyButton } from '@/components/ui/CopyButton'
import { Skeleton } from '@/components/ui/Skeleton'
import { ChartCard, RequestsChart, requestsLegend } from '@/features/analytics/components/Charts'
import { NoCallsYet } from '@/features/analytics/components/NoCallsYet'
import { SummaryCards } from '@/features/analytics/components/SummaryCards'
import { useAnalytics } from '@/features/analytics/hooks'
import { LogDetails } from '@/features/logs/components/LogDetails'
import { LogTable } from '@/features/logs/components/LogTable'
import { useRecentLogs } from '@/features/logs/hooks'
import { useGateway } from '../hooks'
import { buildSnippets } from '../snippets'

const SECRET_PLACEHOLDER = 'YOUR_GATEWAY_SECRET'
const LAST_7_DAYS = { kind: 'preset', preset: '7d' } as const

function ConnectCard({ gatewayId }: { gatewayId: string }) {
  const baseUrl = useOpenAiBaseUrl()
  const { data: gateway } = useGateway(gatewayId)
  return (
    <Card>
      <CardHeader title="Connect" description="Any OpenAI-compatible client works: set the base URL and the secret." />
      <CardBody className="flex flex-col gap-3">
        <dl className="grid gap-2 text-[13px] sm:grid-cols-[7rem_1fr] sm:items-center">
          <dt className="text-muted">Base URL</dt>
          <dd className="flex min-w-0 items-center gap-1">
            <code className="truncate rounded-md bg-subtle px-2 py-1 font-mono text-xs text-fg">{baseUrl}</code>
            <CopyButton value={baseUrl} label="Copy base URL" />
          </dd>
          <dt className="text-muted">Secret</dt>
          <dd className="flex flex-wrap items-center gap-2">
            <code className="rounded-md bg-subtle px-2 py-1 font-mono text-xs text-fg">{gateway?.secret_hint}</code>
            <span className="text-xs text-muted">
              Shown once at creation.{' '}
              <Link to={`/g/${gatewayId}/settings`} className="inline-flex items-center gap-1 text-accent hover:underline">
                <KeyRound className="size-3" /> Rotate
              </Link>{' '}
              if you lost it.
            </span>
          </dd>
        </dl>
        <CodeTabs samples={buildSnippets(baseUrl, SECRET_PLACEHOLDER)} />
      </CardBody>
    </Card>
  )
}

export function GatewayOverviewPage() {
  const { gatewayId = '' } = useParams()
  const analytics = useAnalytics(gatewayId, LAST_7_DAYS)
  const recent = useRecentLogs(gatewayId, 6)
  const [selected, setSelected] = useState<LogEntry | null>(null)
  const hasCalls = (analytics.data?.summary.total_requests ?? 0) > 0 || (recent.data?.logs.length ?? 0) > 0

  return (
    <div className="flex flex-col gap-5">
      <div className="flex items-center justify-between gap-3">
        <h2 className="text-lg font-semibold tracking-tight text-fg">Last 7 days</h2>
        <Link
          to={`/g/${gatewayId}/analytics`}
          className="inline-flex items-center gap-1 text-[13px] font-medium text-accent hover:underline"
        >
          Open analytics <ArrowRight className="size-3.5" />
        </Link>
      </div>
      {analytics.isError && <Alert title="Could not load analytics">{errorMessage(analytics.error)}</Alert>}
      <SummaryCards summary={analytics.data?.summary} loading={analytics.isPending} />

      {analytics.isPending || recent.isPending ? (
        <Skeleton className="h-64 rounded-xl" />
      ) : !hasCalls ? (
        <NoCallsYet gatewayId={gatewayId} />
      ) : (
        <div className="grid gap-4 lg:grid-cols-5">
          <ChartCard title="Requests per day" actions={requestsLegend} className="lg:col-span-2" testId="chart-requests">
            {analytics.data && <RequestsChart daily={analytics.data.daily_stats} height={250} />}
          </ChartCard>
          <Card className="overflow-hidden lg:col-span-3">
            <CardHeader
              title="Recent calls"
              className="pb-3"
              actions={
                <Link
                  to={`/g/${gatewayId}/logs`}
                  className="inline-flex items-center gap-1 text-[13px] font-medium text-accent hover:underline"
                >
                  All logs <ArrowRight className="size-3.5" />
                </Link>
              }
            />
            <div className="border-t border-border">
              <LogTable logs={recent.data?.logs ?? []} onOpen={setSelected} selectedId={selected?.id} compact />
            </div>
          </Card>
        </div>
      )}

      <ConnectCard gatewayId={gatewayId} />
      <LogDetails log={selected} onClose={() => setSelected(null)} />
    </div>
  )
}
