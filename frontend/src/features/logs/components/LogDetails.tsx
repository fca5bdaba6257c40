import type { ReactNode } from 'react'
import type { LogEntry, UsageSource } from '@/api/types'
import { Badge } from '@/components/ui/Badge'
import { CopyButton } from '@/components/ui/CopyButton'
import { isPriced, Unpriced, UNPRICED_EXPLANATION } from '@/components/ui/Cost'
import { Drawer } from '@/components/ui/Drawer'
import { formatDateTime, formatInteger, formatLatency, formatUsd } from '@/lib/format'
import { answeredByFallback, costParts, qualifiedModel } from '../attempts'
import { LogStatus } from './LogStatus'

function Row({ label, children, mono }: { label: string; children: ReactNode; mono?: boolean }) {
  return (
    <div className="grid grid-cols-[9rem_1fr] gap-3 border-b border-border py-2.5 last:border-0">
      <dt className="text-[13px] text-muted">{label}</dt>
      <dd className={mono ? 'min-w-0 font-mono text-xs break-all text-fg' : 'min-w-0 text-[13px] text-fg tabular'}>
        {children}
      </dd>
    </div>
  )
}

const none = <span className="text-faint">—</span>

const USAGE_SOURCES: Record<Exclude<UsageSource, 'provider'>, string> = {
  estimated: 'Estimated: the provider reported no usage, so Tollgate counted the tokens',
  none: 'None: the provider reported no usage, and none could be estimated',
}

function FallbackBadge() {
  return (
    <Badge tone="warning" className="font-sans">
      Fallback
    </Badge>
  )
}

/** Each failed attempt, then the one whose answer the client got. */
function Attempts({ log, fallback }: { log: LogEntry; fallback: boolean }) {
  const failed = log.failed_attempts ?? []
  return (
    <section>
      <h3 className="mb-2 text-xs font-medium tracking-wide text-faint uppercase">Attempts</h3>
      <ol className="flex flex-col gap-2" data-testid="log-attempts">
        {failed.map((attempt, index) => (
          <li key={index} className="flex items-baseline gap-2.5 text-[13px]">
            <span aria-hidden="true" className="size-1.5 shrink-0 -translate-y-px rounded-full bg-danger" />
            <span className="min-w-0 break-words">
              <span className="font-mono text-xs text-fg">{qualifiedModel(attempt.provider, attempt.model)}</span>
              <span className="text-muted">: </span>
              <span className="text-danger">{attempt.error}</span>
            </span>
          </li>
        ))}
        <li className="flex items-baseline gap-2.5 text-[13px]" data-testid="log-final-attempt">
          <span
            aria-hidden="true"
            className={`size-1.5 shrink-0 -translate-y-px rounded-full ${log.ok ? 'bg-success' : 'bg-danger'}`}
          />
          <span className="flex min-w-0 flex-wrap items-center gap-x-2 gap-y-1">
            <span className="font-mono text-xs break-all text-fg">
              {qualifiedModel(log.provider, log.upstream_model ?? log.model)}
            </span>
            <span className="text-muted">{log.ok ? 'answered' : 'failed too'}</span>
            <LogStatus log={log} />
            {fallback && <FallbackBadge />}
          </span>
        </li>
      </ol>
      {fallback && (
        <p className="mt-2 text-xs text-muted" data-testid="fallback-note">
          The client asked for <code className="font-mono">{log.model}</code>; every attempt at it failed, so a fallback model
          answered.
        </p>
      )}
    </section>
  )
}

function Details({ log }: { log: LogEntry }) {
  const fallback = answeredByFallback(log)
  const parts = isPriced(log) ? costParts(log.cost_breakdown) : []
  const cacheWrite = log.tokens_cache_write ?? 0
  const reasoning = log.tokens_reasoning ?? 0
  const usageSource = log.usage_source ?? 'provider'
  return (
    <div className="flex flex-col gap-5" data-testid="log-details">
      {!log.ok && (log.error_type || log.error_code || log.error_message) && (
        <div className="rounded-lg border border-danger/30 bg-danger-soft p-3">
          <p className="flex flex-wrap items-baseline gap-x-2 text-[13px] font-medium text-danger">
            {log.error_type ?? 'Error'}
            {log.error_code && <code className="font-mono text-xs">{log.error_code}</code>}
          </p>
          {log.error_message && (
            <pre className="mt-1 font-mono text-xs whitespace-pre-wrap break-words text-fg">{log.error_message}</pre>
          )}
        </div>
      )}
      <section>
        <h3 className="mb-1 text-xs font-medium tracking-wide text-faint uppercase">Request</h3>
        <dl>
          <Row label="Request ID" mono>
            <span className="inline-flex items-center gap-1">
              {log.request_id}
              <CopyButton value={log.request_id} label="Copy request ID" />
            </span>
          </Row>
          <Row label="Log ID" mono>
            {log.id}
          </Row>
          <Row label="Time">
            {formatDateTime(log.timestamp)}
            <span className="block font-mono text-xs text-muted">{log.timestamp}</span>
          </Row>
          <Row label="Status">
            <span className="flex items-center gap-2">
              <LogStatus log={log} /> {log.ok ? 'Succeeded' : 'Failed'}
            </span>
          </Row>
          <Row label="Error type">{log.error_type ?? none}</Row>
          <Row label="Error code" mono={log.error_code !== null}>
            {log.error_code ?? none}
          </Row>
          <Row label="Error message">{log.error_message ?? none}</Row>
          <Row label="Streaming">{log.streaming ? 'Yes' : 'No'}</Row>
          <Row label="Attempts">{formatInteger(log.attempts)}</Row>
        </dl>
      </section>
      {(log.failed_attempts?.length ?? 0) > 0 && <Attempts log={log} fallback={fallback} />}
      <section>
        <h3 className="mb-1 text-xs font-medium tracking-wide text-faint uppercase">Model</h3>
        <dl>
          <Row label="Model" mono>
            {log.model}
          </Row>
          <Row label="Upstream model" mono>
            {log.upstream_model === null ? (
              none
            ) : (
              <span className="inline-flex flex-wrap items-center gap-2">
                {log.upstream_model}
                {fallback && <FallbackBadge />}
              </span>
            )}
          </Row>
          <Row label="Provider">{log.provider ?? none}</Row>
        </dl>
      </section>
      <section>
        <h3 className="mb-1 text-xs font-medium tracking-wide text-faint uppercase">Usage</h3>
        <dl>
          <Row label="Prompt tokens">{formatInteger(log.tokens_prompt)}</Row>
          <Row label="Cached tokens">{formatInteger(log.tokens_cached)}</Row>
          {cacheWrite > 0 && <Row label="Cache-write tokens">{formatInteger(cacheWrite)}</Row>}
          <Row label="Completion tokens">{formatInteger(log.tokens_completion)}</Row>
          {reasoning > 0 && <Row label="Reasoning tokens">{formatInteger(reasoning)}</Row>}
          <Row label="Total tokens">{formatInteger(log.tokens_prompt + log.tokens_completion)}</Row>
          {usageSource !== 'provider' && <Row label="Usage source">{USAGE_SOURCES[usageSource] ?? usageSource}</Row>}
          <Row label="Cost">
            {isPriced(log) ? (
              <>
                {formatUsd(log.cost)}
                {log.cost_nanousd !== null && (
                  <span className="ml-2 text-xs text-muted">{formatInteger(log.cost_nanousd)} nano-USD</span>
                )}
              </>
            ) : (
              <>
                <Unpriced />
                <span className="mt-0.5 block text-xs text-muted" aria-hidden="true" data-testid="unpriced-reason">
                  {UNPRICED_EXPLANATION}.
                </span>
              </>
            )}
          </Row>
          {parts.map((part) => (
            <Row key={part.label} label={`${part.label} cost`}>
              {formatUsd(part.usd)}
            </Row>
          ))}
        </dl>
      </section>
      <section>
        <h3 className="mb-1 text-xs font-medium tracking-wide text-faint uppercase">Timing</h3>
        <dl>
          <Row label="Latency">{formatLatency(log.latency_ms)}</Row>
          <Row label="Time to first token">{log.ttft_ms === null ? none : formatLatency(log.ttft_ms)}</Row>
        </dl>
      </section>
    </div>
  )
}

export function LogDetails({ log, onClose }: { log: LogEntry | null; onClose: () => void }) {
  return (
    <Drawer
      open={log !== null}
      onClose={onClose}
      title={log ? `${log.model} · ${formatDateTime(log.timestamp)}` : ''}
      actions={log && <CopyButton value={JSON.stringify(log, null, 2)} label="Copy as JSON" />}
    >
      {log && <Details log={log} />}
    </Drawer>
  )
}
