import { Radio, Route } from 'lucide-react'
import type { LogEntry } from '@/api/types'
import { cn } from '@/components/ui/cn'
import { CallCost } from '@/components/ui/Cost'
import { formatDateTime, formatInteger, formatLatency, formatShortDate, formatTime } from '@/lib/format'
import { answeredByFallback, qualifiedModel } from '../attempts'
import { LogStatus } from './LogStatus'

/** Marks a call answered by a fallback model, naming it (as tooltip and accessible name). */
function FallbackIcon({ log }: { log: LogEntry }) {
  const label = `Answered by the fallback ${qualifiedModel(log.provider, log.upstream_model ?? log.model)}`
  return (
    <Route className="size-3.5 shrink-0 text-warning" role="img" aria-label={label} data-testid="fallback-icon">
      <title>{label}</title>
    </Route>
  )
}

/** Newest-first calls; a row (or its time button) opens the details. */
export function LogTable({
  logs,
  onOpen,
  selectedId,
  compact = false,
}: {
  logs: LogEntry[]
  onOpen: (log: LogEntry) => void
  selectedId?: string | null
  compact?: boolean
}) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-[13px]" data-testid="logs-table">
        <thead>
          <tr className="border-b border-border bg-subtle/60 text-xs text-muted">
            <th scope="col" className="py-2 pr-3 pl-4 font-medium">Time</th>
            <th scope="col" className="hidden px-3 py-2 font-medium sm:table-cell">Status</th>
            <th scope="col" className="px-3 py-2 font-medium">Model</th>
            <th scope="col" className={cn('px-3 py-2 text-right font-medium', compact ? 'hidden' : 'hidden sm:table-cell')}>Tokens</th>
            <th scope="col" className="py-2 pr-4 pl-3 text-right font-medium sm:pr-3">Cost</th>
            <th scope="col" className="hidden py-2 pr-4 pl-3 text-right font-medium sm:table-cell">Latency</th>
          </tr>
        </thead>
        <tbody className="tabular">
          {logs.map((log) => (
            <tr
              key={log.id}
              onClick={() => onOpen(log)}
              aria-selected={selectedId === log.id || undefined}
              className={cn(
                'cursor-pointer border-b border-border transition-colors last:border-0 hover:bg-hover',
                selectedId === log.id && 'bg-hover',
              )}
            >
              <td className="py-2.5 pr-3 pl-4 whitespace-nowrap">
                <span className="flex items-center gap-2">
                  <span
                    aria-hidden
                    className={cn('size-2 shrink-0 rounded-full sm:hidden', log.ok ? 'bg-success' : 'bg-danger')}
                  />
                  <button
                    type="button"
                    className="rounded text-left text-fg hover:underline"
                    aria-label={`Details of the ${log.ok ? 'successful' : 'failed'} ${log.model} call at ${formatDateTime(log.timestamp)}`}
                    onClick={(event) => {
                      event.stopPropagation()
                      onOpen(log)
                    }}
                  >
                    <span className="hidden sm:inline">{formatDateTime(log.timestamp)}</span>
                    <span className="sm:hidden">
                      {formatTime(log.timestamp)}
                      <span className="block text-xs text-muted">{formatShortDate(log.timestamp)}</span>
                    </span>
                  </button>
                </span>
              </td>
              <td className="hidden px-3 py-2.5 sm:table-cell">
                <LogStatus log={log} />
              </td>
              <td className="max-w-32 px-3 py-2.5 sm:max-w-48">
                <span className="flex items-center gap-1.5">
                  <span className="truncate font-mono text-xs text-fg">{log.model}</span>
                  {log.streaming && (
                    <Radio className="size-3.5 shrink-0 text-faint" aria-label="Streamed" />
                  )}
                  {answeredByFallback(log) && <FallbackIcon log={log} />}
                </span>
              </td>
              <td className={cn('px-3 py-2.5 text-right whitespace-nowrap text-muted', compact ? 'hidden' : 'hidden sm:table-cell')}>
                {formatInteger(log.tokens_prompt)} → {formatInteger(log.tokens_completion)}
              </td>
              <td className="py-2.5 pr-4 pl-3 text-right whitespace-nowrap text-fg sm:pr-3">
                <CallCost priced={log.priced} cost={log.cost} />
              </td>
              <td className="hidden py-2.5 pr-4 pl-3 text-right whitespace-nowrap text-fg sm:table-cell">
                {formatLatency(log.latency_ms)}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
