import { Download, RefreshCw, ScrollText } from 'lucide-react'
import { useMemo, useState } from 'react'
import { useParams, useSearchParams } from 'react-router'
import type { ExportFormat, LogEntry, LogFilters, LogStatusFilter } from '@/api/types'
import { Alert, errorMessage } from '@/components/ui/Alert'
import { Button } from '@/components/ui/Button'
import { Card } from '@/components/ui/Card'
import { EmptyState } from '@/components/ui/EmptyState'
import { Segmented } from '@/components/ui/Segmented'
import { Skeleton } from '@/components/ui/Skeleton'
import { useToast } from '@/components/ui/Toast'
import { ModelSelect } from '@/features/analytics/components/ModelSelect'
import { RangePicker } from '@/features/analytics/components/RangePicker'
import { NoCallsYet } from '@/features/analytics/components/NoCallsYet'
import { useAnalytics } from '@/features/analytics/hooks'
import { formatInteger } from '@/lib/format'
import { logsRangeParams, rangeFromKey, rangeFromSearch, rangeKey, rangeToSearch } from '@/lib/range'
import { useExportLogs, useLogs } from '../hooks'
import { LogDetails } from './LogDetails'
import { LogTable } from './LogTable'

type StatusChoice = 'all' | LogStatusFilter

const exportFormats: ExportFormat[] = ['csv', 'ndjson']
const exportFormatNames: Record<ExportFormat, string> = { csv: 'CSV', ndjson: 'NDJSON' }

/** Reads the filters of the logs page from its URL. */
function useLogFilters() {
  const [search, setSearch] = useSearchParams()
  const range = rangeFromSearch(search, null)
  const statusParam = search.get('status')
  const status: LogStatusFilter | undefined = statusParam === 'ok' || statusParam === 'error' ? statusParam : undefined
  const model = search.get('model') || undefined
  const key = rangeKey(range)
  // A relative range is anchored when it is chosen (memoised on its key, not
  // on the range object) so paging and export see the same set of calls.
  const filters = useMemo<LogFilters>(
    () => ({ status, model, ...logsRangeParams(rangeFromKey(key)) }),
    [status, model, key],
  )
  const update = (change: (params: URLSearchParams) => void) =>
    setSearch(
      (current) => {
        const params = new URLSearchParams(current)
        change(params)
        return params
      },
      { replace: true },
    )
  return { search, setSearch, range, status, model, filters, update }
}

export function LogsPage() {
  const { gatewayId = '' } = useParams()
  const { search, setSearch, range, status, model, filters, update } = useLogFilters()
  const logs = useLogs(gatewayId, filters)
  const exporter = useExportLogs(gatewayId)
  const toast = useToast()
  const [selected, setSelected] = useState<LogEntry | null>(null)
  const knownModels = useAnalytics(gatewayId, { kind: 'preset', preset: '90d' })

  const rows = logs.data?.pages.flatMap((page) => page.logs) ?? []
  const filtered = status !== undefined || model !== undefined || range !== null

  const runExport = (format: ExportFormat) =>
    exporter.mutate(
      { format, filters },
      {
        onSuccess: () => toast.success(`${exportFormatNames[format]} export downloaded`),
        onError: (error) => toast.error(`Export failed: ${errorMessage(error)}`),
      },
    )

  return (
    <div className="flex flex-col gap-4">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div>
          <h2 className="text-lg font-semibold tracking-tight text-fg">Logs</h2>
          <p className="text-[13px] text-muted">Every call through this gateway, newest first.</p>
        </div>
        <div className="flex items-center gap-2">
          {exportFormats.map((format) => (
            <Button
              key={format}
              size="sm"
              icon={<Download />}
              loading={exporter.isPending && exporter.variables?.format === format}
              onClick={() => runExport(format)}
            >
              {`Export ${exportFormatNames[format]}`}
            </Button>
          ))}
        </div>
      </div>

      <div className="flex flex-wrap items-center gap-2" role="group" aria-label="Filters">
        <Segmented<StatusChoice>
          label="Status"
          size="sm"
          value={status ?? 'all'}
          onChange={(next) => update((p) => (next === 'all' ? p.delete('status') : p.set('status', next)))}
          options={[
            { value: 'all', label: 'All' },
            { value: 'ok', label: 'OK' },
            { value: 'error', label: 'Errors' },
          ]}
        />
        <ModelSelect
          id="logs-model"
          value={model ?? ''}
          models={Object.keys(knownModels.data?.model_breakdown ?? {})}
          onChange={(next) => update((p) => (next ? p.set('model', next) : p.delete('model')))}
        />
        <RangePicker allowAll value={range} onChange={(next) => setSearch(rangeToSearch(next, search), { replace: true })} />
        <Button
          size="icon-sm"
          variant="ghost"
          aria-label="Refresh logs"
          className="ml-auto"
          onClick={() => logs.refetch()}
          disabled={logs.isFetching}
        >
          <RefreshCw className={logs.isFetching && !logs.isFetchingNextPage ? 'animate-spin' : undefined} />
        </Button>
      </div>

      {logs.isError && <Alert title="Could not load logs">{errorMessage(logs.error)}</Alert>}

      {logs.isPending ? (
        <Card className="p-4">
          {[0, 1, 2, 3, 4].map((i) => (
            <Skeleton key={i} className="my-2 h-7" />
          ))}
        </Card>
      ) : rows.length === 0 ? (
        filtered ? (
          <Card>
            <EmptyState
              icon={<ScrollText />}
              title="No calls match these filters"
              actions={<Button onClick={() => setSearch(new URLSearchParams(), { replace: true })}>Clear filters</Button>}
            >
              Try another status, model or time range.
            </EmptyState>
          </Card>
        ) : (
          <NoCallsYet gatewayId={gatewayId} />
        )
      ) : (
        <Card className="overflow-hidden">
          <LogTable logs={rows} onOpen={setSelected} selectedId={selected?.id} />
          <div className="flex items-center justify-between gap-3 border-t border-border px-4 py-2.5 text-xs text-muted">
            <span className="tabular" data-testid="logs-count">
              {formatInteger(rows.length)} {rows.length === 1 ? 'call' : 'calls'} shown
            </span>
            {logs.hasNextPage ? (
              <Button size="sm" loading={logs.isFetchingNextPage} onClick={() => logs.fetchNextPage()}>
                Load more
              </Button>
            ) : (
              <span>That’s all of them.</span>
            )}
          </div>
        </Card>
      )}

      <LogDetails log={selected} onClose={() => setSelected(null)} />
    </div>
  )
}
