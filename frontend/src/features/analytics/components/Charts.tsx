import { useState, type ReactNode } from 'react'
import {
  Bar,
  BarChart,
  CartesianGrid,
  Cell,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts'
import type { AnalyticsSummary, DailyStat, ModelStats } from '@/api/types'
import { Card, CardHeader } from '@/components/ui/Card'
import { Unpriced, UnpricedNote, UNPRICED_CALLS_EXPLANATION, unpricedCalls } from '@/components/ui/Cost'
import { Segmented } from '@/components/ui/Segmented'
import { formatCompact, formatDay, formatInteger, formatLatency, formatUsd, formatUsdAxis } from '@/lib/format'
import { useReducedMotion } from '@/lib/useReducedMotion'

const axisProps = {
  stroke: 'var(--chart-axis)',
  tick: { fill: 'var(--chart-axis)', fontSize: 11 },
  tickLine: false,
  axisLine: false,
} as const

interface TooltipRow {
  name?: string | number
  value?: unknown
  color?: string
  dataKey?: string | number | ((obj: unknown) => unknown)
  /** The data point the row belongs to. */
  payload?: unknown
}

/** A data point's value that has no number: an unpriced cost. */
const unknownValue = <Unpriced explanation={UNPRICED_CALLS_EXPLANATION} />

function ChartTooltip({
  active,
  payload,
  label,
  labelFormat = (l) => String(l),
  valueFormat = (v) => formatInteger(v),
  note,
}: {
  active?: boolean
  payload?: readonly TooltipRow[]
  label?: string | number
  labelFormat?: (label: string | number) => string
  valueFormat?: (value: number) => string
  /** A line under the values, from the hovered data point. */
  note?: (datum: unknown) => ReactNode
}) {
  if (!active || !payload?.length) return null
  const extra = note?.(payload[0]?.payload)
  return (
    <div className="min-w-36 rounded-lg border border-border bg-surface px-3 py-2 text-xs shadow-lg">
      <p className="mb-1 font-medium text-fg">{label !== undefined ? labelFormat(label) : ''}</p>
      {payload.map((row) => (
        <div key={String(row.dataKey ?? row.name)} className="flex items-center justify-between gap-4 py-0.5">
          <span className="flex items-center gap-1.5 text-muted">
            <span className="size-2 rounded-sm" style={{ background: row.color }} aria-hidden />
            {row.name}
          </span>
          <span className="font-medium text-fg tabular">
            {row.value === null || row.value === undefined ? unknownValue : valueFormat(Number(row.value))}
          </span>
        </div>
      ))}
      {extra && <p className="mt-1 max-w-56 text-muted">{extra}</p>}
    </div>
  )
}

/** The cost of calls of which some may be unpriced: null (not 0) when none is priced. */
function knownCost(cost: number, requests: number, unpriced: number | undefined): number | null {
  return requests > 0 && (unpriced ?? 0) >= requests ? null : cost
}

/** Tooltip line for a data point that leaves unpriced calls out of its cost. */
function unpricedTooltipNote(datum: unknown): ReactNode {
  const { requests = 0, unpriced_requests: unpriced = 0 } = (datum ?? {}) as { requests?: number; unpriced_requests?: number }
  if (unpriced <= 0) return null
  if (unpriced >= requests) {
    return `${requests === 1 ? 'The call is' : `All ${formatInteger(requests)} calls are`} unpriced (no price in the catalog).`
  }
  return `Cost excludes ${unpricedCalls(unpriced)} (no price in the catalog).`
}

function Legend({ items }: { items: { label: string; color: string }[] }) {
  return (
    <div className="flex items-center gap-3 text-xs text-muted">
      {items.map((item) => (
        <span key={item.label} className="flex items-center gap-1.5">
          <span className="size-2 rounded-sm" style={{ background: item.color }} aria-hidden />
          {item.label}
        </span>
      ))}
    </div>
  )
}

export function ChartCard({
  title,
  description,
  actions,
  children,
  className,
  testId,
}: {
  title: string
  description?: ReactNode
  actions?: ReactNode
  children: ReactNode
  className?: string
  testId?: string
}) {
  return (
    <Card className={className} data-testid={testId}>
      <CardHeader title={title} description={description} actions={actions} />
      <div className="px-2 pt-3 pb-3 sm:px-3">{children}</div>
    </Card>
  )
}

const dayTooltip = (label: string | number) => formatDay(String(label))

/** A value drawn for each day, with its name in the tooltip and legend. */
interface DailySeries {
  dataKey: string
  name: string
  color: string
}

/** How the value axis and the tooltip show counts or US dollars. */
const dailyUnits = {
  count: { axisWidth: 40, allowDecimals: false, axisFormat: (v: number) => formatCompact(v), valueFormat: formatInteger },
  usd: { axisWidth: 76, allowDecimals: true, axisFormat: formatUsdAxis, valueFormat: formatUsd },
} as const

/** One bar per day of `data`; several series stack into one bar. */
function DailyBarChart({
  data,
  series,
  unit,
  height = 220,
  tooltipNote,
}: {
  data: readonly { date: string }[]
  series: readonly DailySeries[]
  unit: keyof typeof dailyUnits
  height?: number
  tooltipNote?: (datum: unknown) => ReactNode
}) {
  const animate = !useReducedMotion()
  const { axisWidth, allowDecimals, axisFormat, valueFormat } = dailyUnits[unit]
  const stackId = series.length > 1 ? 'daily' : undefined
  return (
    <ResponsiveContainer width="100%" height={height}>
      <BarChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: 0 }} barCategoryGap="20%">
        <CartesianGrid vertical={false} stroke="var(--chart-grid)" />
        <XAxis dataKey="date" tickFormatter={formatDay} minTickGap={24} {...axisProps} />
        <YAxis width={axisWidth} allowDecimals={allowDecimals} tickFormatter={axisFormat} {...axisProps} />
        <Tooltip
          cursor={{ fill: 'var(--hover)' }}
          // Keep a day whose cost is unknown (null): its tooltip says so instead of vanishing.
          filterNull={false}
          content={(p) => <ChartTooltip {...p} labelFormat={dayTooltip} valueFormat={valueFormat} note={tooltipNote} />}
        />
        {series.map((s, i) => (
          <Bar
            key={s.dataKey}
            isAnimationActive={animate}
            dataKey={s.dataKey}
            name={s.name}
            stackId={stackId}
            fill={s.color}
            // Only the top of the (stacked) bar is rounded.
            radius={i === series.length - 1 ? [3, 3, 0, 0] : undefined}
            maxBarSize={36}
          />
        ))}
      </BarChart>
    </ResponsiveContainer>
  )
}

function seriesLegend(series: readonly DailySeries[]) {
  return <Legend items={series.map((s) => ({ label: s.name, color: s.color }))} />
}

const requestsSeries: DailySeries[] = [
  { dataKey: 'ok', name: 'Succeeded', color: 'var(--chart-1)' },
  { dataKey: 'errors', name: 'Errors', color: 'var(--chart-4)' },
]

export function RequestsChart({ daily, height }: { daily: DailyStat[]; height?: number }) {
  const data = daily.map((d) => ({ date: d.date, ok: Math.max(0, d.requests - d.errors), errors: d.errors }))
  return <DailyBarChart data={data} series={requestsSeries} unit="count" height={height} />
}

export const requestsLegend = seriesLegend(requestsSeries)

const costSeries: DailySeries[] = [{ dataKey: 'cost', name: 'Cost', color: 'var(--chart-2)' }]

/** USD per day; a day whose calls are all unpriced has no bar and reads "—", not $0.00. */
export function CostChart({ daily }: { daily: DailyStat[] }) {
  const data = daily.map((d) => ({ ...d, cost: knownCost(d.cost, d.requests, d.unpriced_requests) }))
  return <DailyBarChart data={data} series={costSeries} unit="usd" tooltipNote={unpricedTooltipNote} />
}

const tokensSeries: DailySeries[] = [
  { dataKey: 'tokens_in', name: 'Input', color: 'var(--chart-5)' },
  { dataKey: 'tokens_out', name: 'Output', color: 'var(--chart-3)' },
]

export function TokensChart({ daily }: { daily: DailyStat[] }) {
  return <DailyBarChart data={daily} series={tokensSeries} unit="count" />
}

export const tokensLegend = seriesLegend(tokensSeries)

type ModelMetric = 'cost' | 'requests'

export function ModelBreakdown({ breakdown }: { breakdown: Record<string, ModelStats> }) {
  const animate = !useReducedMotion()
  const [metric, setMetric] = useState<ModelMetric>('cost')
  const rows = Object.entries(breakdown)
    .map(([model, stats]) => ({
      model,
      ...stats,
      unpriced_requests: stats.unpriced_requests ?? 0,
      // A model none of whose calls is priced has no cost: no bar, "—", never $0.00.
      cost: knownCost(stats.cost, stats.requests, stats.unpriced_requests),
    }))
    .sort((a, b) => (b[metric] ?? -1) - (a[metric] ?? -1) || b.requests - a.requests)
  const format = metric === 'cost' ? formatUsd : formatInteger
  return (
    <ChartCard
      title="By model"
      description="Cost and requests per model in this range."
      testId="chart-models"
      actions={
        <Segmented<ModelMetric>
          label="Model metric"
          size="sm"
          value={metric}
          onChange={setMetric}
          options={[
            { value: 'cost', label: 'Cost' },
            { value: 'requests', label: 'Requests' },
          ]}
        />
      }
    >
      <ResponsiveContainer width="100%" height={Math.max(80, rows.length * 36 + 16)}>
        <BarChart data={rows} layout="vertical" margin={{ top: 0, right: 16, bottom: 0, left: 0 }} barCategoryGap={8}>
          <XAxis type="number" hide />
          <YAxis type="category" dataKey="model" width={120} {...axisProps} tick={{ fill: 'var(--muted)', fontSize: 12 }} />
          <Tooltip
            cursor={{ fill: 'var(--hover)' }}
            filterNull={false}
            content={(p) => (
              <ChartTooltip {...p} valueFormat={format} note={metric === 'cost' ? unpricedTooltipNote : undefined} />
            )}
          />
          <Bar isAnimationActive={animate} dataKey={metric} name={metric === 'cost' ? 'Cost' : 'Requests'} radius={[0, 4, 4, 0]} maxBarSize={22}>
            {rows.map((row, i) => (
              <Cell key={row.model} fill={`var(--chart-${(i % 5) + 1})`} />
            ))}
          </Bar>
        </BarChart>
      </ResponsiveContainer>
      <div className="mt-2 overflow-x-auto px-3 pb-1">
        <table className="w-full text-left text-[13px]">
          <thead>
            <tr className="border-b border-border text-xs text-muted">
              <th className="py-2 pr-3 font-medium">Model</th>
              <th className="py-2 pr-3 text-right font-medium">Requests</th>
              <th className="py-2 pr-3 text-right font-medium">Tokens</th>
              <th className="py-2 pr-3 text-right font-medium">Cost</th>
              <th className="py-2 pr-3 text-right font-medium">Avg latency</th>
              <th className="py-2 text-right font-medium">Errors</th>
            </tr>
          </thead>
          <tbody className="tabular">
            {rows.map((row) => (
              <tr key={row.model} className="border-b border-border last:border-0">
                <td className="py-2 pr-3 font-mono text-xs text-fg">{row.model}</td>
                <td className="py-2 pr-3 text-right">{formatInteger(row.requests)}</td>
                <td className="py-2 pr-3 text-right">{formatCompact(row.total_tokens)}</td>
                <td className="py-2 pr-3 text-right" data-testid={`model-cost-${row.model}`}>
                  {row.cost === null ? (
                    <Unpriced />
                  ) : (
                    <>
                      {formatUsd(row.cost)}
                      {row.unpriced_requests > 0 && (
                        <UnpricedNote count={row.unpriced_requests} className="block text-xs text-muted">
                          {`excl. ${unpricedCalls(row.unpriced_requests)}`}
                        </UnpricedNote>
                      )}
                    </>
                  )}
                </td>
                <td className="py-2 pr-3 text-right">{formatLatency(row.avg_latency_ms)}</td>
                <td className={row.error_count > 0 ? 'py-2 text-right text-danger' : 'py-2 text-right'}>
                  {formatInteger(row.error_count)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </ChartCard>
  )
}

export function LatencyChart({ summary }: { summary: AnalyticsSummary }) {
  const animate = !useReducedMotion()
  const bars = [
    { name: 'p50', value: summary.p50_latency_ms, color: 'var(--chart-1)' },
    { name: 'p95', value: summary.p95_latency_ms, color: 'var(--chart-3)' },
    { name: 'p99', value: summary.p99_latency_ms, color: 'var(--chart-4)' },
  ]
    .filter((b): b is { name: string; value: number; color: string } => b.value !== null)
    .map((b) => ({ ...b, label: formatLatency(b.value) }))
  return (
    <ChartCard
      title="Latency percentiles"
      description="Time from request to the last byte of the answer."
      testId="chart-latency"
    >
      <ResponsiveContainer width="100%" height={170}>
        <BarChart data={bars} layout="vertical" margin={{ top: 0, right: 4, bottom: 0, left: 0 }} barCategoryGap={10}>
          <XAxis type="number" hide />
          <YAxis yAxisId="name" type="category" dataKey="name" width={40} {...axisProps} tick={{ fill: 'var(--muted)', fontSize: 12 }} />
          <YAxis
            yAxisId="value"
            type="category"
            dataKey="label"
            orientation="right"
            width={70}
            {...axisProps}
            tick={{ fill: 'var(--fg)', fontSize: 12, fontWeight: 600 }}
          />
          <Tooltip cursor={{ fill: 'var(--hover)' }} content={(p) => <ChartTooltip {...p} valueFormat={formatLatency} />} />
          <Bar isAnimationActive={animate} yAxisId="name" dataKey="value" name="Latency" radius={[0, 4, 4, 0]} maxBarSize={26} minPointSize={2}>
            {bars.map((b) => (
              <Cell key={b.name} fill={b.color} />
            ))}
          </Bar>
        </BarChart>
      </ResponsiveContainer>
      <dl className="mt-1 grid grid-cols-2 gap-x-4 gap-y-1 px-3 text-xs sm:grid-cols-4">
        {[
          ['Min', summary.min_latency_ms],
          ['Average', summary.avg_latency_ms],
          ['Max', summary.max_latency_ms],
          ['Avg TTFT', summary.avg_ttft_ms],
        ].map(([label, value]) => (
          <div key={label as string} className="flex justify-between gap-2 border-t border-border pt-1.5">
            <dt className="text-muted">{label}</dt>
            <dd className="font-medium text-fg tabular">{formatLatency(value as number | null)}</dd>
          </div>
        ))}
      </dl>
    </ChartCard>
  )
}
