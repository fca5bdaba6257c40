import type { ReactNode } from 'react'
import type { LogEntry } from '@/api/types'
import { CopyButton } from '@/components/ui/CopyButton'
import { isPriced, Unpriced, UNPRICED_EXPLANATION } from '@/components/ui/Cost'
import { Drawer } from '@/components/ui/Drawer'
import { formatDateTime, formatInteger, formatLatency, formatUsd } from '@/lib/format'
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

export function LogDetails({ log, onClose }: { log: LogEntry | null; onClose: () => void }) {
  return (
    <Drawer
      open={log !== null}
      onClose={onClose}
      title={log ? `${log.model} · ${formatDateTime(log.timestamp)}` : ''}
      actions={log && <CopyButton value={JSON.stringify(log, null, 2)} label="Copy as JSON" />}
    >
      {log && (
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
          <section>
            <h3 className="mb-1 text-xs font-medium tracking-wide text-faint uppercase">Model</h3>
            <dl>
              <Row label="Model" mono>
                {log.model}
              </Row>
              <Row label="Upstream model" mono>
                {log.upstream_model ?? none}
              </Row>
              <Row label="Provider">{log.provider ?? none}</Row>
            </dl>
          </section>
          <section>
            <h3 className="mb-1 text-xs font-medium tracking-wide text-faint uppercase">Usage</h3>
            <dl>
              <Row label="Prompt tokens">{formatInteger(log.tokens_prompt)}</Row>
              <Row label="Cached tokens">{formatInteger(log.tokens_cached)}</Row>
              <Row label="Completion tokens">{formatInteger(log.tokens_completion)}</Row>
              <Row label="Total tokens">{formatInteger(log.tokens_prompt + log.tokens_completion)}</Row>
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
      )}
    </Drawer>
  )
}
